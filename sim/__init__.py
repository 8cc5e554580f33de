"""A simulator of the NHS partner systems the API calls, served over real HTTP.

For the demo, fault tests and benchmarks: the token endpoint, PDS, NRL and a FHIR endpoint per
trust, answering for seeded synthetic people (`sim.people`), with faults injected on request
(`sim.faults`). A tool, not the product: the product imports it only inside the `partner-sim`
command. Run it with `triage partner-sim` or `python -m sim`.
"""

from sim.app import PARTNERS, create_sim_app
from sim.faults import FaultConfig, FaultConfigError, PartnerFaults, load_fault_file
from sim.server import serve

__all__ = [
    "PARTNERS",
    "FaultConfig",
    "FaultConfigError",
    "PartnerFaults",
    "create_sim_app",
    "load_fault_file",
    "serve",
]
