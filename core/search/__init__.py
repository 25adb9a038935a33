"""Japanese retrieval over the city's documents: analysis (text), chunking, conversion (ingest), the index.

Public entry points: `core.search.index.Index`, `Hit`, `readable_sets`; `core.search.ingest.to_markdown`,
`ingest_folder`, `IngestError`."""
