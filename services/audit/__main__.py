from shared.entrypoint import run_service
from services.audit.bootstrap import SERVICE, main
from services.audit.settings import AuditSettings

run_service(SERVICE, AuditSettings, main)
