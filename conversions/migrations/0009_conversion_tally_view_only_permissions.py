"""The conversion tally (the overview's and the list's totals) and permissions that do something:
conversions, clicks and status changes are only viewed by hand."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('callbacks', '0007_delivery_status_change_unchecked'),
        ('conversions', '0008_import_job_kinds_approval_revert'),
    ]

    operations = [
        migrations.CreateModel(
            name='ConversionTally',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('hour', models.DateTimeField()),
                ('status', models.CharField(choices=[('pending', 'Pending'), ('success', 'Success'), ('rejected', 'Rejected')], max_length=16)),
                ('conversions', models.BigIntegerField()),
                ('payout', models.DecimalField(decimal_places=4, max_digits=20)),
                ('revenue', models.DecimalField(decimal_places=4, max_digits=20)),
            ],
            options={
                'default_permissions': (),
            },
        ),
        migrations.AlterModelOptions(
            name='click',
            options={'default_permissions': ('view',)},
        ),
        migrations.AlterModelOptions(
            name='conversion',
            options={'default_permissions': ('view',), 'ordering': ['-id'], 'permissions': [('change_conversion_status', 'Can change the status of conversions'), ('approve_large_status_change', 'Can approve large status changes')]},
        ),
        migrations.AlterModelOptions(
            name='statuschange',
            options={'default_permissions': ('view',), 'ordering': ['conversion_id', 'sequence_number']},
        ),
        migrations.AddField(
            model_name='conversiontally',
            name='offer',
            field=models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='conversions.offer'),
        ),
        migrations.AddField(
            model_name='conversiontally',
            name='partner',
            field=models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='callbacks.partner'),
        ),
        migrations.AddIndex(
            model_name='conversiontally',
            index=models.Index(fields=['hour'], name='tally_hour'),
        ),
    ]
