"""The data contract as code: table names, column names, StructTypes, constants."""
