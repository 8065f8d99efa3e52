"""LAB ONLY: puts a few documents into the application database through the real server, as
the application user, the way the application would. Idempotent: fixed _ids, inserted only
when missing. Run on the lab host by lab/playbooks/mongodb-lab-seed.yml with the pymongo of
the mongodb role's venv; the password comes in the environment, never in argv.

Prints {"inserted": N}.
"""

import datetime
import json
import os

import bson
import pymongo

ENV = os.environ


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


def main():
    client = pymongo.MongoClient(
        host="127.0.0.1",
        port=int(ENV["SEED_PORT"]),
        username=ENV["SEED_USER"],
        password=ENV["SEED_PASSWORD"],
        authSource=ENV["SEED_DATABASE"],
        directConnection=True,
        serverSelectionTimeoutMS=10000,
    )
    db = client[ENV["SEED_DATABASE"]]
    inserted = 0
    for name, docs in documents().items():
        for doc in docs:
            result = db[name].update_one({"_id": doc["_id"]}, {"$setOnInsert": doc}, upsert=True)
            inserted += result.upserted_id is not None
    print(json.dumps({"inserted": inserted}))


if __name__ == "__main__":
    main()
