"""The parking domain shared by every Parklotse component: bay readings, sites, settings, storage."""
