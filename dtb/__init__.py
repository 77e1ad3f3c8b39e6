"""dtb: companion to "Digital Twin Brain: Generating Multitask Behavior from Connectomes".

Takahashi, Soda, Tomita, Yamashita, BME Frontiers 2026, doi:10.34133/bmef.0231.
Data: Transdiagnostic Connectome Project, OpenNeuro ds005237 (doi:10.18112/openneuro.ds005237).
"""

__version__ = "0.1.0"
