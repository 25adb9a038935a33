"""The Teams edge: the ONLY package that imports botbuilder (archived upstream; replaceable by rewriting bot/)."""
