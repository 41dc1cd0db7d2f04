"""GoKart's advertiser parameters on the conversion (issue 24): ``cnv_amount``,
``cnv_conversion_ip_address`` (both NULL when not sent), ``cnv_user_id``, ``cnv_email`` and
``cnv_sub_1`` … ``cnv_sub_5`` (constant database default ''). Nullable columns and constant
defaults are kept in the catalogue: no rewrite of the conversions table, and the set-based
writers that insert without naming them still work.
"""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('conversions', '0019_click_gokart_parameters'),
    ]

    operations = [
        migrations.AddField(
            model_name='conversion',
            name='cnv_amount',
            field=models.DecimalField(blank=True, decimal_places=4, max_digits=12, null=True, verbose_name='sale amount'),
        ),
        migrations.AddField(
            model_name='conversion',
            name='cnv_conversion_ip_address',
            field=models.GenericIPAddressField(blank=True, null=True, verbose_name='conversion IP address'),
        ),
        migrations.AddField(
            model_name='conversion',
            name='cnv_email',
            field=models.CharField(blank=True, db_default='', default='', max_length=254, verbose_name="advertiser's user email"),
        ),
        migrations.AddField(
            model_name='conversion',
            name='cnv_sub_1',
            field=models.CharField(blank=True, db_default='', default='', max_length=255, verbose_name='cnv_sub_1'),
        ),
        migrations.AddField(
            model_name='conversion',
            name='cnv_sub_2',
            field=models.CharField(blank=True, db_default='', default='', max_length=255, verbose_name='cnv_sub_2'),
        ),
        migrations.AddField(
            model_name='conversion',
            name='cnv_sub_3',
            field=models.CharField(blank=True, db_default='', default='', max_length=255, verbose_name='cnv_sub_3'),
        ),
        migrations.AddField(
            model_name='conversion',
            name='cnv_sub_4',
            field=models.CharField(blank=True, db_default='', default='', max_length=255, verbose_name='cnv_sub_4'),
        ),
        migrations.AddField(
            model_name='conversion',
            name='cnv_sub_5',
            field=models.CharField(blank=True, db_default='', default='', max_length=255, verbose_name='cnv_sub_5'),
        ),
        migrations.AddField(
            model_name='conversion',
            name='cnv_user_id',
            field=models.CharField(blank=True, db_default='', default='', max_length=255, verbose_name="advertiser's user id"),
        ),
    ]
