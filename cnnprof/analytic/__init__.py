"""Stage ③ by formula: an Arch (or an outside model's recorded leaf shapes) → Profile through one
formula per op; the training-step cost; the roofline over a device's Roofs. Pure Python."""
