"""Source contracts and catalogs: how feeds map onto the lake, and the vocabularies they use."""
