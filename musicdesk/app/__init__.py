"""The Qt face of musicdesk: windows, panels, plots and background workers over the headless core."""
