"""GoKart's click parameters (issue 24): ``pub_click_id`` and ``pub_sub_1`` … ``pub_sub_15`` on
the click. Each column is added with a constant database default (''), which PostgreSQL keeps in
the catalogue: no rewrite of a table of tens of millions of clicks, and code that inserts
without naming them still works. The landing URL's help names its macros (no SQL).
"""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('conversions', '0018_api_source'),
    ]

    operations = [
        migrations.AddField(
            model_name='click',
            name='pub_click_id',
            field=models.CharField(blank=True, db_default='', default='', max_length=255, verbose_name="partner's click id"),
        ),
        migrations.AddField(
            model_name='click',
            name='pub_sub_1',
            field=models.CharField(blank=True, db_default='', default='', max_length=255, verbose_name='pub_sub_1'),
        ),
        migrations.AddField(
            model_name='click',
            name='pub_sub_10',
            field=models.CharField(blank=True, db_default='', default='', max_length=255, verbose_name='pub_sub_10'),
        ),
        migrations.AddField(
            model_name='click',
            name='pub_sub_11',
            field=models.CharField(blank=True, db_default='', default='', max_length=255, verbose_name='pub_sub_11'),
        ),
        migrations.AddField(
            model_name='click',
            name='pub_sub_12',
            field=models.CharField(blank=True, db_default='', default='', max_length=255, verbose_name='pub_sub_12'),
        ),
        migrations.AddField(
            model_name='click',
            name='pub_sub_13',
            field=models.CharField(blank=True, db_default='', default='', max_length=255, verbose_name='pub_sub_13'),
        ),
        migrations.AddField(
            model_name='click',
            name='pub_sub_14',
            field=models.CharField(blank=True, db_default='', default='', max_length=255, verbose_name='pub_sub_14'),
        ),
        migrations.AddField(
            model_name='click',
            name='pub_sub_15',
            field=models.CharField(blank=True, db_default='', default='', max_length=255, verbose_name='pub_sub_15'),
        ),
        migrations.AddField(
            model_name='click',
            name='pub_sub_2',
            field=models.CharField(blank=True, db_default='', default='', max_length=255, verbose_name='pub_sub_2'),
        ),
        migrations.AddField(
            model_name='click',
            name='pub_sub_3',
            field=models.CharField(blank=True, db_default='', default='', max_length=255, verbose_name='pub_sub_3'),
        ),
        migrations.AddField(
            model_name='click',
            name='pub_sub_4',
            field=models.CharField(blank=True, db_default='', default='', max_length=255, verbose_name='pub_sub_4'),
        ),
        migrations.AddField(
            model_name='click',
            name='pub_sub_5',
            field=models.CharField(blank=True, db_default='', default='', max_length=255, verbose_name='pub_sub_5'),
        ),
        migrations.AddField(
            model_name='click',
            name='pub_sub_6',
            field=models.CharField(blank=True, db_default='', default='', max_length=255, verbose_name='pub_sub_6'),
        ),
        migrations.AddField(
            model_name='click',
            name='pub_sub_7',
            field=models.CharField(blank=True, db_default='', default='', max_length=255, verbose_name='pub_sub_7'),
        ),
        migrations.AddField(
            model_name='click',
            name='pub_sub_8',
            field=models.CharField(blank=True, db_default='', default='', max_length=255, verbose_name='pub_sub_8'),
        ),
        migrations.AddField(
            model_name='click',
            name='pub_sub_9',
            field=models.CharField(blank=True, db_default='', default='', max_length=255, verbose_name='pub_sub_9'),
        ),
        migrations.AlterField(
            model_name='offer',
            name='landing_url',
            field=models.URLField(help_text='Where a click is sent. These macros are filled, URL-encoded: {gk_click_id}, {gk_offer_id}, {gk_offer_name}, {pub_member_id}, {pub_click_id}.', max_length=2000),
        ),
    ]
