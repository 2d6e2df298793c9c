from shared.entrypoint import run_service
from services.routing.bootstrap import SERVICE, main
from services.routing.settings import RoutingSettings

run_service(SERVICE, RoutingSettings, main)
