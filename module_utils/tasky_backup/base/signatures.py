"""SSH signatures (`ssh-keygen -Y sign` / `-Y verify`, namespace tasky-backup) of the backups'
manifests, with stock OpenSSH: the host signs with its own key, anyone verifies against the
allowed_signers file the control node publishes (`ssh-keygen -Y verify -f allowed_signers -I
<host> -n tasky-backup -s X.sig < X`)."""

import os
import subprocess
import tempfile

from .errors import BackupError

NAMESPACE = "tasky-backup"
TIMEOUT_S = 60


class UntrustedSignature(BackupError):
    """A signature that does not prove its manifest: unknown signer, bad signature, wrong host."""


def run_ssh_keygen(ssh_keygen, args, data):
    try:
        return subprocess.run([ssh_keygen, *args], input=data, capture_output=True, check=False, timeout=TIMEOUT_S)
    except (OSError, subprocess.SubprocessError) as exc:
        raise BackupError(f"cannot run {ssh_keygen}: {exc}") from None


def sign(ssh_keygen, key_path, data):
    """The armored SSH signature of data by the private key at key_path (a root-only file,
    never read by the engine itself)."""
    proc = run_ssh_keygen(ssh_keygen, ["-Y", "sign", "-f", key_path, "-n", NAMESPACE], data)
    if proc.returncode != 0 or not proc.stdout.startswith(b"-----BEGIN SSH SIGNATURE-----"):
        said = proc.stderr.decode(errors="replace").strip().splitlines()[-1:] or ["no output"]
        raise BackupError(f"ssh-keygen could not sign with {key_path}: {said[0]}")
    return proc.stdout


def verify(ssh_keygen, allowed_signers, principal, data, signature):
    """Checks that `signature` is a good tasky-backup signature of data by a key that
    allowed_signers lists for `principal`; raises UntrustedSignature saying which check failed."""
    if not os.path.isfile(allowed_signers) or not os.access(allowed_signers, os.R_OK):
        raise BackupError(f"allowed_signers {allowed_signers} is missing or unreadable: no manifest can be checked")
    with tempfile.TemporaryDirectory(prefix="tasky-signature-") as scratch:
        sig_path = os.path.join(scratch, "manifest.sig")
        with open(sig_path, "wb") as handle:
            handle.write(signature)
        found = run_ssh_keygen(ssh_keygen, ["-Y", "find-principals", "-f", allowed_signers, "-s", sig_path], b"")
        principals = found.stdout.decode(errors="replace").split()
        if found.returncode != 0 or not principals:
            said = " ".join(found.stderr.decode(errors="replace").split())[:200]
            raise UntrustedSignature(
                "it is signed by a key that allowed_signers does not list "
                f"(unknown signer; ssh-keygen: {said or 'no match'})"
            )
        if principal not in principals:
            raise UntrustedSignature(
                f"it is signed by {', '.join(principals)}'s key, not by {principal}'s, the host it names"
            )
        args = ["-Y", "verify", "-f", allowed_signers, "-I", principal, "-n", NAMESPACE, "-s", sig_path]
        checked = run_ssh_keygen(ssh_keygen, args, data)
        if checked.returncode != 0:
            said = checked.stderr.decode(errors="replace").strip().splitlines()
            raise UntrustedSignature(f"its signature does not match it (bad signature: {' '.join(said[-2:])})")
