# The token-saving models moved to the optimization app (optimization 0001 takes
# over their state and renames their tables); only the state goes here.

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('tokens', '0003_optimization'),
        ('optimization', '0001_initial'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(state_operations=[
            migrations.DeleteModel(name='PromptTemplate'),
            migrations.DeleteModel(name='ResponseCacheCounter'),
            migrations.DeleteModel(name='ResponseCacheEntry'),
            migrations.DeleteModel(name='SavingsRecord'),
            migrations.DeleteModel(name='UserPreference'),
        ]),
    ]
