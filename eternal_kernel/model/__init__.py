"""The runtime's domain types: identifiers, instruments and filters, and venue reports."""
