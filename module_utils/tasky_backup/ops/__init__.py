"""The operations, one file each: backup, restore, drill, verify, status, catalogue (and its
page), listing. An operation never imports another: what two of them share lives below them
(formats/restore_into.py is the step restore and drill share). actions.py composes them."""
