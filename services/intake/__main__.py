from shared.entrypoint import run_service
from services.intake.bootstrap import SERVICE, main
from services.intake.settings import IntakeSettings

run_service(SERVICE, IntakeSettings, main)
