"""Shipped presets (*.safetensors) and the recipes that trained them."""
