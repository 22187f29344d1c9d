from django import forms


class AudienceLiftForm(forms.Form):
    dataset = forms.ChoiceField(label="Clean-room dataset")
    campaign_id = forms.ChoiceField(label="Campaign")

    def __init__(self, *args, datasets, campaigns, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["dataset"].choices = [(d.slug, f"{d.name} ({d.retailer_code})") for d in datasets]
        self.fields["campaign_id"].choices = [
            (c.external_id, f"{c.name} · {c.retailer.code} · {c.external_id}") for c in campaigns
        ]
