"""Storage and service adapters (lake, Solr, Catena-X files, Spark session, jars): the only code that does I/O."""
