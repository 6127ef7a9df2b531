"""Attribution: journeys from sessions and conversions, credit per model, channel reporting."""
