"""The private-network option (main.bicep's privateNetwork, azd's PHOTO_PRIVATE_NETWORK): what each
parameter set deploys, followed from main.bicep into the modules with the values it passes.

Off (the default), nothing changes: no network, the storage account on its public endpoint. On:
a VNet whose app subnet is delegated for Flex Consumption's VNet integration, private endpoints and
private DNS zones for blob, queue and table, the storage account's public endpoint closed (or, with
HR's addresses, open to those alone), trusted Azure services let through for Event Grid's dead
letters, and the function app's own endpoint still public for Event Grid's webhook.
"""

from __future__ import annotations

import json
from typing import Any

from tests.infra.iac import ROOT, Deployment, unwrap

OFF: dict[str, Any] = {}
ON: dict[str, Any] = {"privateNetwork": True}
ON_WITH_HR = {"privateNetwork": True, "hrAllowedIpRanges": "203.0.113.0/24, 198.51.100.7"}


def storage_account(deployment: Deployment, parameters: dict[str, Any]) -> dict[str, Any]:
    module = deployment.module("storage.bicep")
    (account,) = module.resources("Microsoft.Storage/storageAccounts").values()
    resolved = deployment.resolve_in("storage.bicep", account["properties"], parameters)
    assert isinstance(resolved, dict)
    return resolved


def test_the_option_is_an_azd_environment_variable_and_off_by_default(
        deployment: Deployment) -> None:
    assert deployment.main.resolve("privateNetwork") is False
    assert deployment.main.decorators("privateNetwork").get("description")
    parameters = json.loads((ROOT / "infra" / "main.parameters.json").read_text())["parameters"]
    assert parameters["privateNetwork"]["value"] == "${PHOTO_PRIVATE_NETWORK=false}"
    assert parameters["hrAllowedIpRanges"]["value"] == "${PHOTO_HR_ALLOWED_IP_RANGES=}"


def test_network_and_endpoints_exist_only_with_the_option(deployment: Deployment) -> None:
    main = deployment.main
    for symbol, file_name in (("network", "network.bicep"),
                              ("privateEndpoints", "private-endpoints.bicep")):
        assert main.data["modules"][symbol]["config"]["condition"] == "privateNetwork"
        assert main.module_path(symbol).name == file_name
    app = deployment.bindings("functionApp", OFF)
    assert app["virtualNetworkSubnetId"] == ""
    on = main.module("functionApp")["params"]["virtualNetworkSubnetId"]
    assert "appSubnetId" in json.dumps(on)


def test_the_app_subnet_is_delegated_for_flex_consumption(deployment: Deployment) -> None:
    network = deployment.module("network.bicep")
    (vnet,) = network.resources("Microsoft.Network/virtualNetworks").values()
    subnets = {network.resolve(s["name"]): s["properties"] for s in vnet["properties"]["subnets"]}
    assert set(subnets) == {"app", "private-endpoints"}
    delegations = [d["properties"]["serviceName"] for d in subnets["app"]["delegations"]]
    assert delegations == ["Microsoft.App/environments"]
    assert "delegations" not in subnets["private-endpoints"]
    outputs = network.outputs
    assert outputs["appSubnetId"].endswith("/subnets/${appSubnetName}")
    assert network.resolve("appSubnetName") == "app"


def test_blob_queue_and_table_get_a_private_endpoint_and_dns_zone(deployment: Deployment) -> None:
    module = deployment.module("private-endpoints.bicep")
    services = module.resolve("services")
    assert services == ["blob", "queue", "table"]
    (zones,) = module.resources("Microsoft.Network/privateDnsZones").values()
    assert zones["name"] == "privatelink.${service}.${environment().suffixes.storage}"
    (endpoint,) = module.resources("Microsoft.Network/privateEndpoints").values()
    (connection,) = endpoint["properties"]["privateLinkServiceConnections"]
    assert connection["properties"]["groupIds"] == ["service"]
    assert "storage" in json.dumps(connection["properties"]["privateLinkServiceId"])
    (link,) = module.resources("Microsoft.Network/privateDnsZones/virtualNetworkLinks").values()
    assert link["properties"]["virtualNetwork"]["id"] == "virtualNetworkId"
    (group,) = module.resources(
        "Microsoft.Network/privateEndpoints/privateDnsZoneGroups").values()
    (config,) = group["properties"]["privateDnsZoneConfigs"]
    assert "zones" in json.dumps(config["properties"]["privateDnsZoneId"])
    # The app starts only once its storage resolves to the private addresses.
    depends = unwrap(deployment.main.data["modules"]["functionApp"]["config"])["dependsOn"]
    assert "privateEndpoints" in depends


def test_storage_is_public_only_without_the_option(deployment: Deployment) -> None:
    off = storage_account(deployment, OFF)
    assert off["publicNetworkAccess"] == "Enabled"
    assert off["networkAcls"]["defaultAction"] == "Allow"
    on = storage_account(deployment, ON)
    assert on["publicNetworkAccess"] == "Disabled"
    assert on["networkAcls"]["defaultAction"] == "Deny"
    assert deployment.bindings("storage", ON)["allowedIpRanges"] == []


def test_hr_addresses_open_the_firewall_to_them_alone(deployment: Deployment) -> None:
    bindings = deployment.bindings("storage", ON_WITH_HR)
    assert bindings["publicNetworkAccess"] == "Enabled"
    assert bindings["networkDefaultAction"] == "Deny"
    assert bindings["allowedIpRanges"] == ["203.0.113.0/24", "198.51.100.7"]
    module = deployment.module("storage.bicep")
    (account,) = module.resources("Microsoft.Storage/storageAccounts").values()
    rules = unwrap(account["properties"]["networkAcls"]["ipRules"])
    assert rules == {"value": "range", "action": "Allow"}
    # Without the option the addresses change nothing: the account is open anyway.
    assert deployment.bindings("storage", {"hrAllowedIpRanges": "203.0.113.0/24"})[
        "allowedIpRanges"] == []


def test_trusted_services_keep_access_for_event_grid_dead_letters(deployment: Deployment) -> None:
    for parameters in (OFF, ON, ON_WITH_HR):
        assert storage_account(deployment, parameters)["networkAcls"]["bypass"] == "AzureServices"
    # ... which a storage firewall grants only to the topic's system-assigned identity.
    topic = deployment.module("eventgrid.bicep")
    (system_topic,) = topic.resources("Microsoft.EventGrid/systemTopics").values()
    assert system_topic["identity"]["type"] == "SystemAssigned"


def test_the_function_app_stays_reachable_for_event_grid(deployment: Deployment) -> None:
    module = deployment.module("function-app.bicep")
    (site,) = module.resources("Microsoft.Web/sites").values()
    assert site["properties"]["publicNetworkAccess"] == "Enabled"
    subnet = deployment.resolve_in("function-app.bicep",
                                   site["properties"]["virtualNetworkSubnetId"], OFF)
    assert subnet is None  # no VNet integration at all without the option


def test_network_settings_are_azd_environment_variables(deployment: Deployment) -> None:
    parameters = json.loads((ROOT / "infra" / "main.parameters.json").read_text())["parameters"]
    for name, variable in (("vnetAddressPrefix", "PHOTO_VNET_ADDRESS_PREFIX"),
                           ("appSubnetPrefix", "PHOTO_VNET_APP_SUBNET_PREFIX"),
                           ("privateEndpointSubnetPrefix",
                            "PHOTO_VNET_PRIVATE_ENDPOINT_SUBNET_PREFIX")):
        default = deployment.main.resolve(name)
        assert parameters[name]["value"] == f"${{{variable}={default}}}"
        assert deployment.bindings("network", ON)[
            {"vnetAddressPrefix": "addressPrefix"}.get(name, name)] == default
