"""MongoDB: the server's answers (pymongo), its own tools (mongodump, mongorestore), the oplog,
the mongodump archive format read as it streams, what a dump held, the drill's scratch
databases and its comparison."""
