"""Templated partner postbacks and a partner's static header (issue 24, items 4 and 5).

A delivery gets a kind (the JSON callback, the global postback, the event postback): a status
change may now owe up to three deliveries, one of each kind, so the one-per-change unique index
becomes one per (change, kind); existing rows are JSON callbacks (the column's default, no
rewrite). Partners get a global postback URL template, event postbacks, and an optional static
header whose value is encrypted at rest (it starts empty: nothing to encrypt here).
"""

import callbacks.postback_macros
import django.db.models.deletion
import gokart.encryption
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('callbacks', '0010_partner_secrets_encrypted'),
        ('conversions', '0018_api_source'),
    ]

    operations = [
        migrations.CreateModel(
            name='PartnerEventPostback',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('url_template', models.CharField(max_length=2000, validators=[callbacks.postback_macros.postback_template_validate], verbose_name='postback URL')),
            ],
            options={
                'ordering': ['partner_id', 'offer_event_id'],
            },
        ),
        migrations.AddField(
            model_name='callbackdelivery',
            name='kind',
            field=models.CharField(choices=[('callback', 'JSON callback'), ('postback', 'Global postback'), ('event_postback', 'Event postback')], db_default='callback', default='callback', max_length=16),
        ),
        migrations.AddField(
            model_name='partner',
            name='postback_url',
            field=models.CharField(blank=True, db_default='', default='', max_length=2000, validators=[callbacks.postback_macros.postback_template_validate], verbose_name='global postback URL'),
        ),
        migrations.AddField(
            model_name='partner',
            name='static_header_name',
            field=models.CharField(blank=True, db_default='', default='', max_length=100, validators=[callbacks.postback_macros.header_name_validate]),
        ),
        migrations.AddField(
            model_name='partner',
            name='static_header_value',
            field=gokart.encryption.EncryptedTextField(blank=True, db_default='', default='', validators=[callbacks.postback_macros.header_value_validate]),
        ),
        migrations.AlterField(
            model_name='callbackdelivery',
            name='status_change',
            field=models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='callback_deliveries', to='conversions.statuschange'),
        ),
        migrations.AddConstraint(
            model_name='callbackdelivery',
            constraint=models.UniqueConstraint(fields=('status_change', 'kind'), name='delivery_status_change_kind'),
        ),
        migrations.AddField(
            model_name='partnereventpostback',
            name='offer_event',
            field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='conversions.offerevent'),
        ),
        migrations.AddField(
            model_name='partnereventpostback',
            name='partner',
            field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='event_postbacks', to='callbacks.partner'),
        ),
        migrations.AddConstraint(
            model_name='partnereventpostback',
            constraint=models.UniqueConstraint(fields=('partner', 'offer_event'), name='partner_event_postback_unique'),
        ),
    ]
