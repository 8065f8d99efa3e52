"""What an operation returns. Each operation has its own result class (a dataclass); as_dict()
is what the module returns, the command line prints and the state file keeps, summary() what
the SUMMARY line and the state file keep of it."""

import dataclasses


class Result:
    """Base of the results: fields in OPTIONAL are left out while they are None; fields in
    HIDDEN are for the engine only (never printed, never recorded)."""

    OPTIONAL = ()
    HIDDEN = ()

    def as_dict(self):
        out = {}
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if field.name in self.HIDDEN or (field.name in self.OPTIONAL and value is None):
                continue
            out[field.name] = dataclasses.asdict(value) if dataclasses.is_dataclass(value) else value
        return out

    def summary(self):
        return self.as_dict()


@dataclasses.dataclass
class Ended(Result):
    """A run that did not get to its own result: failed (any error) or locked (another run
    holds the lock); `fields` are the action's own (a drill's key and host, say)."""

    status: str
    error: str
    finished_at: str
    fields: dict = dataclasses.field(default_factory=dict)

    def as_dict(self):
        return {"status": self.status, "error": self.error, **self.fields, "finished_at": self.finished_at}
