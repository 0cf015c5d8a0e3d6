"""Text and symbols for the images: captions, region descriptions, schematic symbols."""
