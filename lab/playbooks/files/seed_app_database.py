"""LAB ONLY: puts a few documents into the application database through the real server, as
the application user, the way the application would. Idempotent: fixed _ids, inserted only
when missing. Run on the lab host by lab/playbooks/mongodb-lab-seed.yml with the pymongo of
the mongodb role's venv.

    seed_app_database.py PORT USER DATABASE   (the password on stdin, never in argv)

Prints {"inserted": N}.
"""

import datetime
import json
import sys

import bson
import pymongo


def documents():
    users = [
        {"_id": bson.ObjectId(f"{i + 1:024x}"), "email": f"user{i}@tasky.example", "name": f"User {i}"}
        for i in range(3)
    ]
    todos = [
        {
            "_id": bson.ObjectId(f"{i + 100:024x}"),
            "name": f"lab task {i}",
            "status": "done" if i % 3 == 0 else "pending",
            "userid": str(users[i % 3]["_id"]),
            "created": datetime.datetime(2025, 1, 1, 9, 0, tzinfo=datetime.timezone.utc) + datetime.timedelta(hours=i),
        }
        for i in range(12)
    ]
    return {"user": users, "todos": todos}


def main(port, user, database):
    client = pymongo.MongoClient(
        host="127.0.0.1",
        port=int(port),
        username=user,
        password=sys.stdin.read().rstrip("\n"),
        authSource=database,
        directConnection=True,
        serverSelectionTimeoutMS=10000,
    )
    db = client[database]
    inserted = 0
    for name, docs in documents().items():
        for doc in docs:
            result = db[name].update_one({"_id": doc["_id"]}, {"$setOnInsert": doc}, upsert=True)
            inserted += result.upserted_id is not None
    print(json.dumps({"inserted": inserted}))


if __name__ == "__main__":
    main(*sys.argv[1:])
