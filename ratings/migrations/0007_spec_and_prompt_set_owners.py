from django.db import migrations


def give_owners(apps, schema_editor):
    """Existing specs and prompt sets: presets and the tiny family stay system-owned; anything
    else belongs to the owner of the first study that used it (every version of a slug to the
    same owner), or stays system-owned when no owned study used it (what everyone saw before)."""
    from generation.presets import PRESETS
    from generation.tiny import TINY_FAMILY

    ModelSpec = apps.get_model("generation", "ModelSpec")
    PromptSet = apps.get_model("generation", "PromptSet")
    Study = apps.get_model("ratings", "Study")
    system_slugs = {p["slug"] for p in PRESETS} | {m["slug"] for m in TINY_FAMILY}
    slug_owner, prompt_set_owner = {}, {}
    for study in Study.objects.filter(owner__isnull=False).order_by("created_at", "pk").select_related("job"):
        for slug in study.job.specs.values_list("slug", flat=True):
            if slug not in system_slugs:
                slug_owner.setdefault(slug, study.owner_id)
        prompt_set_owner.setdefault(study.job.prompt_set_id, study.owner_id)
    for slug, owner_id in slug_owner.items():
        ModelSpec.objects.filter(slug=slug).update(owner_id=owner_id)
    for prompt_set_id, owner_id in prompt_set_owner.items():
        PromptSet.objects.filter(pk=prompt_set_id).update(owner_id=owner_id)


class Migration(migrations.Migration):
    dependencies = [
        ("ratings", "0006_hot_tables_autovacuum"),
        ("generation", "0004_owners_and_sharing"),
    ]

    operations = [migrations.RunPython(give_owners, migrations.RunPython.noop)]
