"""What people look at: Plotly figure builders and the kiosk page served by the API."""
