"""template.yaml: linted, SAM-translated offline, its wiring asserted, and built without Docker.

The deployment cannot run here (no AWS account, no Docker); what can be proven offline is.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import boto3
import pytest
from cfnlint.decode import cfn_yaml
from embed_in_template import SOURCE as EDGE_SOURCE
from embed_in_template import deployed, table_block, with_table
from samtranslator.translator.transform import transform

from conftest import EVENTS, ROOT
from image_optimizer.parameters import NAMES, PARAMETERS, Parameter
from image_optimizer.signing import SIGNING_PARAMETERS

TEMPLATE = ROOT / "template.yaml"
CLOUDFRONT_FUNCTION_BYTES = 10 * 1024  # CloudFront's quota on a function's code
BIN = Path(sys.executable).parent
TOOL_ENV = {
    **os.environ,
    "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",  # sam build needs this venv's python3.12
    "SAM_CLI_TELEMETRY": "0",
    "AWS_DEFAULT_REGION": "us-east-1",
}


class _NoManagedPolicies:
    """The template names no managed policies by name, so none need looking up in IAM."""

    def load(self) -> dict[str, str]:
        return {}


@pytest.fixture(scope="module")
def source() -> dict[str, Any]:
    template: dict[str, Any] = cfn_yaml.load(str(TEMPLATE))
    return template


@pytest.fixture(scope="module")
def resources(source: dict[str, Any]) -> dict[str, Any]:
    """The template as CloudFormation receives it, after the SAM transform (offline)."""
    template = json.loads(json.dumps(source))  # plain dicts, without the YAML node types
    for function in ("ImageOptimizerFunction", "PurgeFunction", "InvalidationFunction"):
        template["Resources"][function]["Properties"]["CodeUri"] = "s3://b/function.zip"
    template["Resources"]["DependenciesLayer"]["Properties"]["ContentUri"] = "s3://b/layer.zip"
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    translated = transform(template, {}, _NoManagedPolicies())  # type: ignore[arg-type]
    result: dict[str, Any] = translated["Resources"]
    return result


def of_type(resources: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {name: r for name, r in resources.items() if r["Type"] == kind}


def test_sam_validate_lint() -> None:
    result = subprocess.run(
        [BIN / "sam", "validate", "--lint", "--template-file", TEMPLATE],
        env=TOOL_ENV, capture_output=True, text=True, timeout=300, cwd=ROOT,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr


def test_cfn_lint() -> None:
    result = subprocess.run(
        [BIN / "cfn-lint", TEMPLATE], capture_output=True, text=True, timeout=300, cwd=ROOT
    )
    assert result.returncode == 0, result.stdout + result.stderr


def optimizer_origin(resources: dict[str, Any]) -> dict[str, Any]:
    [origin] = [
        origin
        for origin in resources["Distribution"]["Properties"]["DistributionConfig"]["Origins"]
        if origin["Id"] == "optimizer"
    ]
    return origin


def test_the_function_url_takes_iam_auth_only(resources: dict[str, Any]) -> None:
    [url] = of_type(resources, "AWS::Lambda::Url").values()
    assert url["Properties"]["AuthType"] == "AWS_IAM"
    assert url["Condition"] == "UseFunctionUrl"


def test_cloudfront_signs_its_requests_to_the_function_url(resources: dict[str, Any]) -> None:
    oac = resources["OriginAccessControl"]["Properties"]["OriginAccessControlConfig"]
    assert oac["OriginAccessControlOriginType"] == "lambda"
    assert oac["SigningBehavior"] == "always"
    assert oac["SigningProtocol"] == "sigv4"
    origin = optimizer_origin(resources)
    use_oac = origin["OriginAccessControlId"]["Fn::If"]
    assert use_oac[0] == "UseFunctionUrl"
    assert use_oac[1] == {"Fn::GetAtt": ["OriginAccessControl", "Id"]}
    domain = origin["DomainName"]["Fn::If"][1]
    assert domain == {
        "Fn::Select": [2, {"Fn::Split": ["/", {"Fn::GetAtt": ["FunctionUrl", "FunctionUrl"]}]}]
    }


def test_only_this_distribution_may_invoke_through_the_url(resources: dict[str, Any]) -> None:
    permissions = {
        r["Properties"]["Action"]: r["Properties"]
        for r in of_type(resources, "AWS::Lambda::Permission").values()
        if r["Properties"]["Principal"] == "cloudfront.amazonaws.com"
    }
    assert set(permissions) == {"lambda:InvokeFunctionUrl", "lambda:InvokeFunction"}
    assert permissions["lambda:InvokeFunctionUrl"]["FunctionUrlAuthType"] == "AWS_IAM"
    assert permissions["lambda:InvokeFunction"]["InvokedViaFunctionUrl"] is True
    for permission in permissions.values():
        assert "distribution/${Distribution}" in permission["SourceArn"]["Fn::Sub"]


def test_the_cache_key_is_the_transform_parameters_only(resources: dict[str, Any]) -> None:
    config = resources["ImageCachePolicy"]["Properties"]["CachePolicyConfig"]
    keyed = config["ParametersInCacheKeyAndForwardedToOrigin"]
    # The whole query is the key because the viewer-request function (on every behaviour that
    # reaches the Lambda) has already cut it down to the parameters below: see the edge tests.
    assert keyed["QueryStringsConfig"] == {"QueryStringBehavior": "all"}
    assert len([*NAMES, *SIGNING_PARAMETERS]) > 10  # CloudFront's most for a name list
    distribution = resources["Distribution"]["Properties"]["DistributionConfig"]
    associations = distribution["DefaultCacheBehavior"]["FunctionAssociations"]
    assert associations == [
        {
            "EventType": "viewer-request",
            "FunctionARN": {
                "Fn::GetAtt": ["ViewerRequestFunction", "FunctionMetadata.FunctionARN"]
            },
        }
    ]
    assert keyed["HeadersConfig"] == {"HeaderBehavior": "none"}
    assert keyed["CookiesConfig"] == {"CookieBehavior": "none"}
    assert keyed["EnableAcceptEncodingGzip"] is False
    assert keyed["EnableAcceptEncodingBrotli"] is False


def test_the_cache_behaviour(resources: dict[str, Any]) -> None:
    config = resources["Distribution"]["Properties"]["DistributionConfig"]
    behaviour = config["DefaultCacheBehavior"]
    assert behaviour["ViewerProtocolPolicy"] == "redirect-to-https"
    assert behaviour["Compress"] is False  # images are compressed already
    assert behaviour["AllowedMethods"] == ["GET", "HEAD"]
    assert behaviour["CachePolicyId"] == {"Ref": "ImageCachePolicy"}
    [association] = behaviour["FunctionAssociations"]
    assert association["EventType"] == "viewer-request"
    errors = {e["ErrorCode"]: e["ErrorCachingMinTTL"] for e in config["CustomErrorResponses"]}
    assert errors[404] == {"Ref": "CdnErrorTtl"}
    assert errors[500] == errors[503] == 0


def edge_code(source: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The CloudFront Function's code in the template, and the variables its !Sub defines."""
    code, variables = source["Resources"]["ViewerRequestFunction"]["Properties"]["FunctionCode"][
        "Fn::Sub"
    ]
    return code, variables


def test_the_template_embeds_the_edge_function_file(source: dict[str, Any]) -> None:
    code, variables = edge_code(source)
    assert variables == {"SigningOn": {"Fn::If": ["SigningOn", "true", "false"]}}
    file = EDGE_SOURCE.read_text()
    assert with_table(file, table_block()) == file, (
        "viewer-request.js's parameters are out of date: run `make generate`"
    )
    assert code.strip() == deployed(file).strip(), (
        "template.yaml is out of date: run `make generate`"
    )
    assert "//" not in code.replace("https://", "")  # comments cost bytes CloudFront counts


# The parameters the issues in hand will add, as their contract names them: the deployed
# function must have room for them (none are planned now; the room is kept for the next).
NEXT_PARAMETERS: tuple[Parameter, ...] = ()


def longest(code: str, parameters: dict[str, Any]) -> str:
    """``code`` with each ${Parameter} replaced by the longest value the template accepts
    (and the SigningOn flag by its longer value)."""
    for name in set(re.findall(r"\$\{(\w+)\}", code)):
        declared = parameters.get(name, {"AllowedValues": ["true", "false"]})
        if "MaxLength" in declared:
            widest = "9" * declared["MaxLength"]
        elif "AllowedValues" in declared:
            widest = max(map(str, declared["AllowedValues"]), key=len)
        else:
            widest = str(declared["MaxValue"])
        code = code.replace(f"${{{name}}}", widest)
    return code


def test_the_edge_function_fits_cloudfronts_10_kb_with_the_longest_parameters(
    source: dict[str, Any],
) -> None:
    code, _ = edge_code(source)
    spliced = set(re.findall(r"\$\{(\w+)\}", code))
    assert spliced == {"MaxDimension", "Presets", "UnsignedUrls", "SigningOn"} | {
        p.allow_list.template_parameter for p in PARAMETERS if p.allow_list is not None
    }
    assert len(longest(code, source["Parameters"]).encode("utf-8")) <= CLOUDFRONT_FUNCTION_BYTES
    with_the_next = deployed(EDGE_SOURCE.read_text(), (*PARAMETERS, *NEXT_PARAMETERS))
    room = CLOUDFRONT_FUNCTION_BYTES - len(longest(with_the_next, source["Parameters"]).encode())
    assert room >= 1024, f"only {room} bytes left once the next parameters are in"


def test_s3_is_reached_through_a_gateway_endpoint_on_the_private_routes(
    resources: dict[str, Any],
) -> None:
    endpoint = resources["S3GatewayEndpoint"]
    assert endpoint["Properties"]["VpcEndpointType"] == "Gateway"
    assert endpoint["Properties"]["ServiceName"] == {"Fn::Sub": "com.amazonaws.${AWS::Region}.s3"}
    tables = endpoint["Properties"]["RouteTableIds"]
    associations = of_type(resources, "AWS::EC2::SubnetRouteTableAssociation").values()
    subnets_on_those_tables = {
        a["Properties"]["SubnetId"]["Ref"]
        for a in associations
        if a["Properties"]["RouteTableId"] in tables
    }
    function_subnets = resources["ImageOptimizerFunction"]["Properties"]["VpcConfig"]["SubnetIds"]
    assert {ref["Ref"] for ref in function_subnets} <= subnets_on_those_tables


def test_the_network_is_private_in_two_zones(resources: dict[str, Any]) -> None:
    kinds = {r["Type"] for r in resources.values()}
    assert not kinds & {"AWS::EC2::NatGateway", "AWS::EC2::InternetGateway", "AWS::EC2::EIP"}
    zones = [
        s["Properties"]["AvailabilityZone"] for s in of_type(resources, "AWS::EC2::Subnet").values()
    ]
    assert sorted(zone["Fn::Select"][0] for zone in zones) == [0, 1]


def test_only_the_functions_reach_the_cache_port(resources: dict[str, Any]) -> None:
    ingresses = resources["CacheSecurityGroup"]["Properties"]["SecurityGroupIngress"]
    assert [i["SourceSecurityGroupId"]["Fn::GetAtt"][0] for i in ingresses] == [
        "FunctionSecurityGroup",
        "PurgeFunctionSecurityGroup",
    ]
    for ingress in ingresses:
        assert (ingress["FromPort"], ingress["ToPort"]) == (6379, 6380)
        assert "CidrIp" not in ingress
    for cache in ("ServerlessCache", "CacheReplicationGroup"):
        groups = resources[cache]["Properties"]["SecurityGroupIds"]
        assert groups == [{"Fn::GetAtt": ["CacheSecurityGroup", "GroupId"]}]


def test_the_cache_speaks_tls(resources: dict[str, Any]) -> None:
    assert resources["CacheReplicationGroup"]["Properties"]["TransitEncryptionEnabled"] is True
    url = resources["ImageOptimizerFunction"]["Properties"]["Environment"]["Variables"]["REDIS_URL"]
    for choice in url["Fn::If"][1:]:
        assert choice["Fn::Sub"].startswith("rediss://")


def test_the_function_reads_the_originals_and_writes_only_large_results(
    resources: dict[str, Any],
) -> None:
    role = resources["ImageOptimizerFunctionRole"]["Properties"]
    statements = [
        statement
        for policy in role["Policies"]
        if "PolicyDocument" in policy  # the others are the signing secret's, under conditions
        for statement in policy["PolicyDocument"]["Statement"]
    ]
    assert [s["Action"] for s in statements] == [
        "s3:GetObject", "s3:ListBucket", "s3:PutObject", "elasticache:Connect"
    ]  # fmt: skip
    objects, bucket = (statement["Resource"]["Fn::Sub"][0] for statement in statements[:2])
    assert objects == "arn:${AWS::Partition}:s3:::${Bucket}/${SourcePrefix}*"
    assert bucket == "arn:${AWS::Partition}:s3:::${Bucket}"
    assert statements[2]["Resource"] == {"Fn::Sub": "${ResultsBucket.Arn}/results/*"}
    managed = json.dumps(role["ManagedPolicyArns"])
    assert "AWSLambdaBasicExecutionRole" in managed
    assert "AWSLambdaVPCAccessExecutionRole" in managed


def test_the_function_and_its_layer(resources: dict[str, Any]) -> None:
    function = resources["ImageOptimizerFunction"]["Properties"]
    [layer] = of_type(resources, "AWS::Lambda::LayerVersion").values()
    assert function["Architectures"] == ["arm64"]
    assert layer["Properties"]["CompatibleArchitectures"] == ["arm64"]
    assert function["Runtime"] in layer["Properties"]["CompatibleRuntimes"]
    assert function["Handler"] == "image_optimizer.app.lambda_handler"
    assert function["LoggingConfig"] == {"LogGroup": {"Ref": "FunctionLogGroup"}}
    retention = resources["FunctionLogGroup"]["Properties"]["RetentionInDays"]
    assert retention == {"Ref": "LogRetentionDays"}


def test_signing_takes_a_secret_or_where_it_is_stored(
    source: dict[str, Any], resources: dict[str, Any]
) -> None:
    secret = source["Parameters"]["SigningSecret"]
    assert secret["NoEcho"] is True
    pattern = re.compile(secret["AllowedPattern"])  # CloudFormation matches the whole value
    assert [bool(pattern.fullmatch(v)) for v in ("", "x" * 15, "x" * 16)] == [True, False, True]
    variables = resources["ImageOptimizerFunction"]["Properties"]["Environment"]["Variables"]
    assert variables["SIGNING_SECRET"] == {"Ref": "SigningSecret"}
    assert variables["SIGNING_SECRET_NAME"] == {"Ref": "SigningSecretName"}
    endpoint = resources["SigningSecretEndpoint"]
    assert endpoint["Condition"] == "HasSigningSecretName"
    assert endpoint["Properties"]["VpcEndpointType"] == "Interface"
    [ingress] = resources["SigningSecretEndpointSecurityGroup"]["Properties"][
        "SecurityGroupIngress"
    ]
    assert ingress["SourceSecurityGroupId"] == {"Fn::GetAtt": ["FunctionSecurityGroup", "GroupId"]}
    role = json.dumps(resources["ImageOptimizerFunctionRole"]["Properties"]["Policies"])
    assert "secretsmanager:GetSecretValue" in role
    assert "ssm:GetParameter" in role


def test_tracing_is_one_parameter(resources: dict[str, Any]) -> None:
    function = resources["ImageOptimizerFunction"]["Properties"]
    assert function["TracingConfig"] == {"Mode": {"Ref": "Tracing"}}
    variables = function["Environment"]["Variables"]
    assert variables["TRACING_ENABLED"] == {"Fn::If": ["TracingActive", "true", "false"]}


def test_alarms_and_dashboard(resources: dict[str, Any]) -> None:
    alarms = of_type(resources, "AWS::CloudWatch::Alarm")
    assert set(alarms) == {
        "ErrorRateAlarm",
        "ThrottleAlarm",
        "P99DurationAlarm",
        "PurgeDeadLetterAlarm",
        "InvalidationDeadLetterAlarm",
    }
    assert alarms["P99DurationAlarm"]["Properties"]["ExtendedStatistic"] == "p99"
    assert of_type(resources, "AWS::CloudWatch::Dashboard")


def test_outputs(source: dict[str, Any]) -> None:
    assert {"CloudFrontUrl", "FunctionUrl", "SourceBucket", "CacheEndpoint"} <= set(
        source["Outputs"]
    )


def sam_build(build_dir: Path, template: Path, **env: str) -> None:
    result = subprocess.run(
        [
            BIN / "sam", "build",
            "--template-file", template,
            "--build-dir", build_dir,
            "--cache-dir", build_dir.parent / "sam-cache",
        ],
        env={**TOOL_ENV, **env}, capture_output=True, text=True, timeout=600, cwd=ROOT,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


@pytest.fixture(scope="module")
def arm64_build(tmp_path_factory: pytest.TempPathFactory) -> Path:
    build = tmp_path_factory.mktemp("arm64") / "build"
    sam_build(build, TEMPLATE)
    return build


def test_sam_build_makes_a_small_function_and_an_arm64_layer(arm64_build: Path) -> None:
    function, layer = arm64_build / "ImageOptimizerFunction", arm64_build / "DependenciesLayer"
    assert (function / "image_optimizer" / "app.py").exists()
    assert list(function.rglob("app.cpython-312.pyc")), "the build compiles the bytecode"
    assert not (function / "image_optimizer_cli").exists()  # local tooling stays out
    assert sum(f.stat().st_size for f in function.rglob("*") if f.is_file()) < 2_000_000
    extensions = [path.name for path in (layer / "python" / "PIL").glob("_imaging.*.so")]
    assert extensions == ["_imaging.cpython-312-aarch64-linux-gnu.so"]
    for package in ("PIL", "pillow_heif", "aws_lambda_powertools", "aws_xray_sdk", "wrapt"):
        assert (layer / "python" / package).is_dir()
    assert not (layer / "python" / "redis").exists()  # the function speaks RESP itself
    assert not (layer / "python" / "botocore").exists()  # the runtime has it


@pytest.fixture(scope="module")
def native_build(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same build for this machine's architecture, so that it can be run here."""
    folder = tmp_path_factory.mktemp("native")
    template = folder / "template.yaml"
    template.write_text(TEMPLATE.read_text().replace("arm64", "x86_64"))
    for name in ("functions", "layers"):
        shutil.copytree(ROOT / name, folder / name, ignore=shutil.ignore_patterns("__pycache__"))
    sam_build(folder / "build", template, LAYER_ARCH="x86_64")
    return folder / "build"


@pytest.mark.parametrize(
    ("event", "status", "content_type"),
    [
        ("function-url-get.json", 200, "image/webp"),
        ("function-url-not-found.json", 404, "application/json"),
        ("function-url-bad-parameter.json", 400, "application/json"),
        ("function-url-head-auto-format.json", 200, "image/avif"),
        ("http-api-get.json", 200, "image/avif"),
    ],
)
def test_the_built_function_serves_the_sample_events_from_a_clean_python(
    native_build: Path,
    samples_dir: Path,
    tmp_path: Path,
    event: str,
    status: int,
    content_type: str,
) -> None:
    python = _clean_python(tmp_path)
    script = (
        "import json, sys\n"
        "from image_optimizer.app import lambda_handler\n"
        "class Context:\n"
        "    function_name = 'image-optimizer'; function_version = '$LATEST'\n"
        "    invoked_function_arn = 'arn:aws:lambda:us-east-1:123456789012:function:f'\n"
        "    memory_limit_in_mb = 1769; aws_request_id = 'r'; log_group_name = 'g'\n"
        "    log_stream_name = 's'\n"
        "    def get_remaining_time_in_millis(self): return 15000\n"
        "response = lambda_handler(json.load(open(sys.argv[1])), Context())\n"
        "print(json.dumps({'status': response['statusCode'],"
        " 'type': response['headers'].get('Content-Type')}))\n"
        "assert 'boto3' not in sys.modules, 'a folder source needs no boto3'\n"
    )
    search_path = os.pathsep.join(
        [
            str(native_build / "ImageOptimizerFunction"),
            str(native_build / "DependenciesLayer" / "python"),
        ]
    )
    result = subprocess.run(
        [python, "-c", script, EVENTS / event],
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": search_path, "SOURCE_DIR": str(samples_dir)},
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    answer = json.loads(result.stdout.strip().splitlines()[-1])
    assert answer == {"status": status, "type": content_type}


def _clean_python(folder: Path) -> Path:
    """A Python 3.12 with nothing installed, like the Lambda runtime minus boto3."""
    venv = folder / "clean"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", venv], check=True, timeout=120)
    return venv / "bin" / "python"


# ---------------------------------------------------------------- safe defaults for the public


def test_concurrency_is_bounded_by_default(
    source: dict[str, Any], resources: dict[str, Any]
) -> None:
    assert source["Parameters"]["ReservedConcurrency"]["Default"] == 25
    function = resources["ImageOptimizerFunction"]["Properties"]
    assert function["ReservedConcurrentExecutions"] == {
        "Fn::If": [
            "HasReservedConcurrency",
            {"Ref": "ReservedConcurrency"},
            {"Ref": "AWS::NoValue"},
        ]
    }


def test_the_serverless_cache_has_usage_limits(resources: dict[str, Any]) -> None:
    limits = resources["ServerlessCache"]["Properties"]["CacheUsageLimits"]
    assert limits == {
        "DataStorage": {"Maximum": {"Ref": "CacheMaxDataGb"}, "Unit": "GB"},
        "ECPUPerSecond": {"Maximum": {"Ref": "CacheMaxEcpuPerSecond"}},
    }


def test_the_function_may_send_only_to_s3_the_cache_and_the_secret_store(
    resources: dict[str, Any],
) -> None:
    [to_s3] = resources["FunctionSecurityGroup"]["Properties"]["SecurityGroupEgress"]
    assert (to_s3["FromPort"], to_s3["ToPort"]) == (443, 443)
    assert to_s3["DestinationPrefixListId"] == {"Fn::GetAtt": ["S3PrefixList", "PrefixListId"]}
    rules = {
        name: rule
        for name, rule in of_type(resources, "AWS::EC2::SecurityGroupEgress").items()
        if rule["Properties"]["GroupId"] == {"Fn::GetAtt": ["FunctionSecurityGroup", "GroupId"]}
    }
    assert {
        name: rule["Properties"]["DestinationSecurityGroupId"] for name, rule in rules.items()
    } == {
        "FunctionToCacheEgress": {"Fn::GetAtt": ["CacheSecurityGroup", "GroupId"]},
        "FunctionToSigningSecretEgress": {
            "Fn::GetAtt": ["SigningSecretEndpointSecurityGroup", "GroupId"]
        },
    }
    assert rules["FunctionToSigningSecretEgress"]["Condition"] == "HasSigningSecretName"
    assert "0.0.0.0/0" not in json.dumps(resources)
    lookup = resources["S3PrefixList"]["Properties"]
    assert lookup["PrefixListName"] == {"Fn::Sub": "com.amazonaws.${AWS::Region}.s3"}


def test_the_s3_endpoint_lets_only_the_two_buckets_through(resources: dict[str, Any]) -> None:
    statement, results = resources["S3GatewayEndpoint"]["Properties"]["PolicyDocument"]["Statement"]
    assert results["Resource"][0] == {"Fn::GetAtt": ["ResultsBucket", "Arn"]}  # and the results
    assert statement["Effect"] == "Allow"
    assert statement["Action"] == ["s3:GetObject", "s3:ListBucket"]
    bucket, objects = (resource["Fn::Sub"][0] for resource in statement["Resource"])
    assert bucket == "arn:${AWS::Partition}:s3:::${Bucket}"
    assert objects == "arn:${AWS::Partition}:s3:::${Bucket}/*"


def test_the_interface_endpoints_let_through_what_the_stack_needs_only(
    resources: dict[str, Any],
) -> None:
    [queue] = resources["QueueEndpoint"]["Properties"]["PolicyDocument"]["Statement"]
    assert (queue["Action"], queue["Resource"]) == (
        "sqs:SendMessage",
        {"Fn::GetAtt": ["InvalidationQueue", "Arn"]},
    )
    [secret] = resources["SigningSecretEndpoint"]["Properties"]["PolicyDocument"]["Statement"]
    assert secret["Action"] == {
        "Fn::If": [
            "SigningSecretInSecretsManager",
            "secretsmanager:GetSecretValue",
            "ssm:GetParameter",
        ]
    }
    assert secret["Resource"]["Fn::If"][1] == {"Ref": "SigningSecretName"}


def test_the_cache_answers_its_iam_user_only(resources: dict[str, Any]) -> None:
    default = resources["CacheDefaultUser"]["Properties"]
    assert (default["UserName"], default["AccessString"]) == ("default", "off -@all")
    user = resources["CacheUser"]["Properties"]
    assert user["AuthenticationMode"] == {"Type": "iam"}
    assert user["UserName"] == user["UserId"]  # what IAM authentication requires
    group = resources["CacheUserGroup"]["Properties"]
    assert group["UserIds"] == [{"Ref": "CacheDefaultUser"}, {"Ref": "CacheUser"}]
    assert resources["ServerlessCache"]["Properties"]["UserGroupId"] == {"Ref": "CacheUserGroup"}
    replicated = resources["CacheReplicationGroup"]["Properties"]
    assert replicated["UserGroupIds"] == [{"Ref": "CacheUserGroup"}]
    for function, role in (
        ("ImageOptimizerFunction", "ImageOptimizerFunctionRole"),
        ("PurgeFunction", "PurgeFunctionRole"),
    ):
        variables = resources[function]["Properties"]["Environment"]["Variables"]
        assert variables["REDIS_IAM_USER"] == {"Ref": "CacheUser"}
        assert variables["REDIS_IAM_CACHE"]["Fn::If"][0] == "UseServerlessCache"
        statements = [
            statement
            for policy in resources[role]["Properties"]["Policies"]
            if "PolicyDocument" in policy  # not the signing secret's, under conditions
            for statement in policy["PolicyDocument"]["Statement"]
        ]
        [connect] = [st for st in statements if st["Action"] == "elasticache:Connect"]
        assert connect["Resource"][0] == {"Fn::GetAtt": ["CacheUser", "Arn"]}


def test_defaults_let_strangers_ask_for_presets_only(source: dict[str, Any]) -> None:
    parameters = source["Parameters"]
    assert parameters["UnsignedUrls"]["Default"] == "presets"
    assert len(parameters["Presets"]["Default"].split()) == 5
    variables = source["Resources"]["ImageOptimizerFunction"]["Properties"]["Environment"][
        "Variables"
    ]
    assert variables["UNSIGNED_URLS"] == {"Ref": "UnsignedUrls"}
    assert variables["PRESETS"] == {"Ref": "Presets"}
    # A secret of spaces is refused by the template, as the function refuses it.
    pattern = re.compile(parameters["SigningSecret"]["AllowedPattern"])
    assert [bool(pattern.fullmatch(value)) for value in ("", "a-secret-of-16-chars")] == [True] * 2
    assert not any(pattern.fullmatch(value) for value in (" " * 20, " padded-secret-16 "))


def test_a_slow_render_is_kept_briefly_and_other_5xx_not_at_all(
    resources: dict[str, Any],
) -> None:
    """CloudFront keeps an error for the longer of its ErrorCachingMinTTL and the answer's
    max-age: 0 here, so that only the function's own 10 s on time_budget_exceeded applies."""
    config = resources["Distribution"]["Properties"]["DistributionConfig"]
    errors = {e["ErrorCode"]: e["ErrorCachingMinTTL"] for e in config["CustomErrorResponses"]}
    assert errors[503] == 0


@pytest.mark.parametrize(
    ("policy", "bucket"),
    [("SourceBucketPolicy", "SourceBucket"), ("CdnLogBucketPolicy", "CdnLogBucket")],
)
def test_the_created_buckets_refuse_plain_http(
    resources: dict[str, Any], policy: str, bucket: str
) -> None:
    [statement] = resources[policy]["Properties"]["PolicyDocument"]["Statement"]
    assert statement["Effect"] == "Deny"
    assert statement["Action"] == "s3:*"
    assert statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert statement["Resource"][0] == {"Fn::GetAtt": [bucket, "Arn"]}


def test_viewer_headers_and_tls(resources: dict[str, Any]) -> None:
    config = resources["Distribution"]["Properties"]["DistributionConfig"]
    behaviour = config["DefaultCacheBehavior"]
    assert behaviour["ResponseHeadersPolicyId"] == {"Ref": "SecurityHeadersPolicy"}
    headers = resources["SecurityHeadersPolicy"]["Properties"]["ResponseHeadersPolicyConfig"]
    security = headers["SecurityHeadersConfig"]
    assert security["ContentTypeOptions"] == {"Override": True}
    assert security["StrictTransportSecurity"]["AccessControlMaxAgeSec"] >= 31536000
    # The origin never sees format=auto behind the edge function: the policy says it varies,
    # and with Origin too when the answer to a list of CORS origins depends on it.
    vary = {"Header": "Vary", "Value": {"Fn::If": ["ListsCorsOrigins", "Accept, Origin", "Accept"]},
            "Override": True}  # fmt: skip
    assert headers["CustomHeadersConfig"]["Items"] == [vary]
    condition, custom, default = config["ViewerCertificate"]["Fn::If"]
    assert condition == "HasCustomDomain"
    assert custom["MinimumProtocolVersion"] == "TLSv1.2_2021"
    assert custom["SslSupportMethod"] == "sni-only"
    assert custom["AcmCertificateArn"] == {"Ref": "CertificateArn"}
    assert default == {"CloudFrontDefaultCertificate": True}


def test_cors_is_one_parameter_for_cloudfront_and_the_function(
    source: dict[str, Any], resources: dict[str, Any]
) -> None:
    parameter = source["Parameters"]["CorsAllowOrigin"]
    assert parameter["Default"] == ""
    pattern = re.compile(parameter["AllowedPattern"])
    for value in ("", "*", "https://a.example.com", "https://a.example.com,http://localhost:3000"):
        assert pattern.fullmatch(value), value
    for value in ("a.example.com", "https://a.example.com/", "*,https://a.example.com"):
        assert not pattern.fullmatch(value), value
    config = resources["SecurityHeadersPolicy"]["Properties"]["ResponseHeadersPolicyConfig"]
    condition, cors, absent = config["CorsConfig"]["Fn::If"]
    assert (condition, absent) == ("AllowsCors", {"Ref": "AWS::NoValue"})
    assert cors["AccessControlAllowOrigins"]["Items"] == {
        "Fn::Split": [",", {"Ref": "CorsAllowOrigin"}]
    }
    assert cors["OriginOverride"] is True
    assert cors["AccessControlAllowCredentials"] is False
    variables = resources["ImageOptimizerFunction"]["Properties"]["Environment"]["Variables"]
    assert variables["CORS_ALLOW_ORIGIN"] == {"Ref": "CorsAllowOrigin"}
    assert variables["FALLBACK_KEY"] == {"Ref": "FallbackKey"}


def test_origin_shield_is_on_by_default_in_the_stacks_region(
    source: dict[str, Any], resources: dict[str, Any]
) -> None:
    assert source["Parameters"]["OriginShield"]["Default"] == "Enabled"
    origin = optimizer_origin(resources)
    condition, shielded, _ = origin["OriginShield"]["Fn::If"]
    assert condition == "UsesOriginShield"
    assert shielded == {"Enabled": True, "OriginShieldRegion": {"Ref": "AWS::Region"}}


def test_access_logs_and_a_web_acl_are_wired(
    source: dict[str, Any], resources: dict[str, Any]
) -> None:
    config = resources["Distribution"]["Properties"]["DistributionConfig"]
    condition, logging, _ = config["Logging"]["Fn::If"]
    assert condition == "LogsCdnAccess"
    assert logging["Bucket"] == {"Fn::GetAtt": ["CdnLogBucket", "DomainName"]}
    assert source["Parameters"]["CdnAccessLogs"]["Default"] == "Enabled"
    assert config["WebACLId"] == {
        "Fn::If": [
            "UsesWebAclArn",
            {"Ref": "WebAclArn"},
            {
                "Fn::If": [
                    "CreatesWebAcl",
                    {"Fn::GetAtt": ["WebAcl", "Arn"]},
                    {"Ref": "AWS::NoValue"},
                ]
            },
        ]
    }
    acl = resources["WebAcl"]["Properties"]
    assert acl["Scope"] == "CLOUDFRONT"
    rate = acl["Rules"][0]["Statement"]["RateBasedStatement"]
    assert rate == {"Limit": {"Ref": "WafRateLimit"}, "AggregateKeyType": "IP"}
    assert acl["Rules"][0]["Action"] == {"Block": {}}
    assert source["Rules"]["WebAclIsCreatedInUsEast1"]["Assertions"][0]["Assert"] == {
        "Fn::Equals": [{"Ref": "AWS::Region"}, "us-east-1"]
    }


def test_the_http_api_is_throttled_and_logged(resources: dict[str, Any]) -> None:
    stage = resources["HttpApiStage"]["Properties"]
    assert stage["DefaultRouteSettings"] == {
        "ThrottlingRateLimit": {"Ref": "HttpApiRateLimit"},
        "ThrottlingBurstLimit": {"Ref": "HttpApiBurstLimit"},
    }
    assert stage["AccessLogSettings"]["DestinationArn"] == {
        "Fn::GetAtt": ["HttpApiAccessLogGroup", "Arn"]
    }
    assert json.loads(stage["AccessLogSettings"]["Format"])["ip"] == "$context.identity.sourceIp"


class _CloudFormation(BaseHTTPRequestHandler):
    """Stands in for the pre-signed URL CloudFormation gives a custom resource to answer."""

    answers: list[dict[str, Any]]

    def do_PUT(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.answers.append(json.loads(body))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *_: object) -> None:
        return


@pytest.mark.parametrize(
    ("request_type", "name", "status"),
    [
        ("Create", "com.amazonaws.us-east-1.s3", "SUCCESS"),
        ("Update", "com.amazonaws.us-east-1.s3", "SUCCESS"),
        ("Create", "com.amazonaws.us-east-1.nothing", "FAILED"),
        ("Delete", "com.amazonaws.us-east-1.nothing", "SUCCESS"),  # nothing to look up
    ],
)
def test_the_prefix_list_lookup_answers_cloudformation(
    source: dict[str, Any],
    s3_endpoint: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    request_type: str,
    name: str,
    status: str,
) -> None:
    """Its inline code, run as Lambda would run it, against moto's EC2 (the same server)."""
    (tmp_path / "index.py").write_text(
        source["Resources"]["S3PrefixListLookup"]["Properties"]["InlineCode"]
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("AWS_ENDPOINT_URL_EC2", s3_endpoint)
    import index  # the template's code

    _CloudFormation.answers = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _CloudFormation)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        index.handler(
            {
                "RequestType": request_type,
                "ResponseURL": f"http://127.0.0.1:{server.server_address[1]}/answer",
                "StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/s/1",
                "RequestId": "request-1",
                "LogicalResourceId": "S3PrefixList",
                "ResourceProperties": {"PrefixListName": name},
            },
            None,
        )
    finally:
        server.shutdown()
        sys.modules.pop("index")
    [answer] = _CloudFormation.answers
    assert answer["Status"] == status, answer
    assert answer["RequestId"] == "request-1"
    assert answer["PhysicalResourceId"] == "S3PrefixList"
    if status == "FAILED":
        assert "no managed prefix list is named" in answer["Reason"]
    elif request_type != "Delete":
        expected = boto3.client("ec2", endpoint_url=s3_endpoint).describe_managed_prefix_lists(
            Filters=[{"Name": "prefix-list-name", "Values": [name]}]
        )["PrefixLists"][0]["PrefixListId"]
        assert answer["Data"] == {"PrefixListId": expected}
        assert expected.startswith("pl-")


def with_defaults(text: str, **defaults: str) -> str:
    """The template with other defaults for some parameters: what checkov evaluates."""
    for name, value in defaults.items():
        pattern = re.compile(rf"(\n  {name}:\n    Type: \w+\n    Default: )[^\n]*")
        text, count = pattern.subn(rf"\g<1>{value}", text, count=1)
        assert count == 1, name
    return text


@pytest.mark.parametrize(
    "defaults",
    [
        {},
        {"Frontend": "HttpApi", "CacheMode": "Node"},
        {"CreateWebAcl": '"true"', "SigningSecretName": "/image-optimizer/signing"},
    ],
    ids=["defaults", "http-api-and-node", "waf-and-stored-secret"],
)
def test_checkov_finds_nothing_that_is_not_skipped_with_a_reason(
    defaults: dict[str, str], tmp_path: Path
) -> None:
    template = tmp_path / "template.yaml"
    template.write_text(with_defaults(TEMPLATE.read_text(), **defaults))
    result = subprocess.run(
        [
            BIN / "checkov", "--file", template, "--framework", "cloudformation",
            "--skip-download", "--output", "json",
        ],
        capture_output=True, text=True, timeout=300, env={**TOOL_ENV, "LOG_LEVEL": "ERROR"},
    )  # fmt: skip
    report = json.loads(result.stdout)
    failed = [
        (c["check_id"], c["resource"]) for c in report.get("results", {}).get("failed_checks", [])
    ]
    assert not failed, failed
    assert report["summary"]["passed"] > 30  # it did look at the resources
    for skipped in report["results"]["skipped_checks"]:
        reason = skipped["check_result"]["suppress_comment"]
        assert len(reason) > 20, skipped["check_id"]  # a reason, not a shrug


# ---------------------------------------------------------------- purge on change


def test_s3_events_reach_the_purge_queue_through_eventbridge(
    resources: dict[str, Any],
) -> None:
    bucket = resources["SourceBucket"]["Properties"]["NotificationConfiguration"]
    assert bucket == {"EventBridgeConfiguration": {"EventBridgeEnabled": True}}
    rule = resources["PurgeRule"]["Properties"]
    pattern = rule["EventPattern"]
    assert pattern["source"] == ["aws.s3"]
    assert pattern["detail-type"] == ["Object Created", "Object Deleted"]
    assert pattern["detail"]["object"]["key"] == [{"prefix": {"Ref": "SourcePrefix"}}]
    [bucket_name] = pattern["detail"]["bucket"]["name"]
    assert bucket_name["Fn::If"][0] == "CreateBucket"
    [target] = rule["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": ["PurgeQueue", "Arn"]}
    [statement] = resources["PurgeQueuePolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert statement["Principal"] == {"Service": "events.amazonaws.com"}
    assert statement["Condition"] == {
        "ArnEquals": {"aws:SourceArn": {"Fn::GetAtt": ["PurgeRule", "Arn"]}}
    }


@pytest.mark.parametrize(
    ("queue", "dead_letters", "alarm", "tries"),
    [
        ("PurgeQueue", "PurgeDeadLetterQueue", "PurgeDeadLetterAlarm", range(3, 11)),
        # Waiting its turn behind CloudFront's limit on wildcard paths in progress: about two
        # days of tries, within the four days the queue keeps a message.
        ("InvalidationQueue", "InvalidationDeadLetterQueue", "InvalidationDeadLetterAlarm",
         range(500, 1001)),
    ],
)  # fmt: skip
def test_what_fails_is_retried_then_kept_and_alarmed(
    resources: dict[str, Any], queue: str, dead_letters: str, alarm: str, tries: range
) -> None:
    properties = resources[queue]["Properties"]
    redrive = properties["RedrivePolicy"]
    assert redrive["deadLetterTargetArn"] == {"Fn::GetAtt": [dead_letters, "Arn"]}
    assert redrive["maxReceiveCount"] in tries
    retried_for = redrive["maxReceiveCount"] * properties.get("VisibilityTimeout", 30)
    assert retried_for < properties.get("MessageRetentionPeriod", 345600)
    watched = resources[alarm]["Properties"]
    assert watched["MetricName"] == "ApproximateNumberOfMessagesVisible"
    assert watched["Dimensions"] == [
        {"Name": "QueueName", "Value": {"Fn::GetAtt": [dead_letters, "QueueName"]}}
    ]
    assert (watched["Threshold"], watched["ComparisonOperator"]) == (0, "GreaterThanThreshold")


def mapping_of(resources: dict[str, Any], function: str) -> dict[str, Any]:
    [mapping] = [
        r["Properties"]
        for r in of_type(resources, "AWS::Lambda::EventSourceMapping").values()
        if r["Properties"]["FunctionName"] == {"Ref": function}
    ]
    return mapping


def test_the_purge_function_sits_by_the_cache_and_hands_over_to_sqs(
    resources: dict[str, Any],
) -> None:
    function = resources["PurgeFunction"]["Properties"]
    assert function["Handler"] == "image_optimizer.purge.lambda_handler"
    assert function["VpcConfig"]["SecurityGroupIds"] == [
        {"Fn::GetAtt": ["PurgeFunctionSecurityGroup", "GroupId"]}
    ]
    variables = function["Environment"]["Variables"]
    image_function = resources["ImageOptimizerFunction"]["Properties"]["Environment"]["Variables"]
    for name in ("REDIS_URL", "SOURCE_BUCKET", "SOURCE_PREFIX"):
        assert variables[name] == image_function[name]  # the same cache, the same originals
    assert variables["INVALIDATION_QUEUE_URL"] == {"Ref": "InvalidationQueue"}
    mapping = mapping_of(resources, "PurgeFunction")
    assert mapping["EventSourceArn"] == {"Fn::GetAtt": ["PurgeQueue", "Arn"]}
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    role = json.dumps(resources["PurgeFunctionRole"]["Properties"]["Policies"])
    assert '"sqs:SendMessage"' in role
    assert "InvalidationQueue" in role
    egress = {
        name: rule["Properties"]["DestinationSecurityGroupId"]["Fn::GetAtt"][0]
        for name, rule in of_type(resources, "AWS::EC2::SecurityGroupEgress").items()
        if rule["Properties"]["GroupId"]
        == {"Fn::GetAtt": ["PurgeFunctionSecurityGroup", "GroupId"]}
    }
    assert sorted(egress.values()) == ["CacheSecurityGroup", "QueueEndpointSecurityGroup"]
    [placeholder] = resources["PurgeFunctionSecurityGroup"]["Properties"]["SecurityGroupEgress"]
    assert placeholder["CidrIp"] == "127.0.0.1/32"  # not EC2's default of everything
    sources = [
        ingress["SourceSecurityGroupId"]["Fn::GetAtt"][0]
        for ingress in resources["CacheSecurityGroup"]["Properties"]["SecurityGroupIngress"]
    ]
    assert sorted(sources) == ["FunctionSecurityGroup", "PurgeFunctionSecurityGroup"]
    endpoint = resources["QueueEndpoint"]["Properties"]
    assert endpoint["ServiceName"] == {"Fn::Sub": "com.amazonaws.${AWS::Region}.sqs"}


def test_the_invalidation_function_runs_outside_the_vpc_for_this_distribution(
    resources: dict[str, Any],
) -> None:
    function = resources["InvalidationFunction"]["Properties"]
    assert function["Handler"] == "image_optimizer.invalidation.lambda_handler"
    assert "VpcConfig" not in function  # CloudFront's API is on the internet
    assert function["Environment"]["Variables"]["DISTRIBUTION_ID"] == {"Ref": "Distribution"}
    mapping = mapping_of(resources, "InvalidationFunction")
    assert mapping["EventSourceArn"] == {"Fn::GetAtt": ["InvalidationQueue", "Arn"]}
    assert mapping["ScalingConfig"] == {"MaximumConcurrency": 2}
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    statements = {
        statement["Sid"]: statement
        for statement in resources["InvalidationFunctionRole"]["Properties"]["Policies"][0][
            "PolicyDocument"
        ]["Statement"]
    }
    invalidate = statements["InvalidateThisDistribution"]
    assert invalidate["Action"] == "cloudfront:CreateInvalidation"
    assert "distribution/${Distribution}" in invalidate["Resource"]["Fn::Sub"]


@pytest.mark.parametrize(
    ("role", "queue"),
    [("PurgeFunctionRole", "PurgeQueue"), ("InvalidationFunctionRole", "InvalidationQueue")],
)
def test_the_queue_functions_may_take_from_their_own_queue_only(
    resources: dict[str, Any], role: str, queue: str
) -> None:
    """Roles of their own: SAM's would attach the managed SQS policy, on every queue."""
    properties = resources[role]["Properties"]
    assert "ManagedPolicyArns" not in properties
    statements = [
        s for policy in properties["Policies"] for s in policy["PolicyDocument"]["Statement"]
    ]
    receiving = [s for s in statements if "sqs:ReceiveMessage" in s["Action"]]
    assert [s["Resource"] for s in receiving] == [{"Fn::GetAtt": [queue, "Arn"]}]
    assert all(s["Resource"] != "*" for s in statements if str(s["Action"]).find("sqs:") >= 0)


def test_cloudfront_keeps_results_longer_than_browsers(source: dict[str, Any]) -> None:
    default = source["Parameters"]["BrowserCacheControl"]["Default"]
    assert default == "public, max-age=86400, s-maxage=31536000"


# ---------------------------------------------------------------- results too large to send


def test_large_results_are_kept_privately_for_a_while(resources: dict[str, Any]) -> None:
    bucket = resources["ResultsBucket"]["Properties"]
    assert bucket["PublicAccessBlockConfiguration"]["RestrictPublicBuckets"] is True
    assert bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0][
        "ServerSideEncryptionByDefault"
    ] == {"SSEAlgorithm": "AES256"}
    [rule] = bucket["LifecycleConfiguration"]["Rules"]
    assert (rule["Prefix"], rule["ExpirationInDays"]) == ("results/", {"Ref": "ResultsDays"})
    tls, read = resources["ResultsBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert tls["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert read["Principal"] == {"Service": "cloudfront.amazonaws.com"}
    assert read["Action"] == "s3:GetObject"
    assert read["Resource"] == {"Fn::Sub": "${ResultsBucket.Arn}/results/*"}
    assert (
        "distribution/${Distribution}"
        in read["Condition"]["StringEquals"]["AWS:SourceArn"]["Fn::Sub"]
    )


def test_cloudfront_serves_results_from_the_bucket(resources: dict[str, Any]) -> None:
    config = resources["Distribution"]["Properties"]["DistributionConfig"]
    origins = {origin["Id"]: origin for origin in config["Origins"]}
    results = origins["results"]
    assert results["DomainName"] == {"Fn::GetAtt": ["ResultsBucket", "RegionalDomainName"]}
    assert results["OriginAccessControlId"] == {"Fn::GetAtt": ["ResultsOriginAccessControl", "Id"]}
    oac = resources["ResultsOriginAccessControl"]["Properties"]["OriginAccessControlConfig"]
    assert (oac["OriginAccessControlOriginType"], oac["SigningBehavior"]) == ("s3", "always")
    [behaviour] = config["CacheBehaviors"]
    assert (behaviour["PathPattern"], behaviour["TargetOriginId"]) == ("results/*", "results")
    assert behaviour["ViewerProtocolPolicy"] == "redirect-to-https"
    assert behaviour["AllowedMethods"] == ["GET", "HEAD"]


def test_the_function_may_write_results_and_the_purge_remove_them(
    resources: dict[str, Any],
) -> None:
    variables = resources["ImageOptimizerFunction"]["Properties"]["Environment"]["Variables"]
    assert variables["RESULTS_BUCKET"] == {"Ref": "ResultsBucket"}
    assert variables["RESULTS_DAYS"] == {"Ref": "ResultsDays"}
    statements = [
        statement
        for policy in resources["ImageOptimizerFunctionRole"]["Properties"]["Policies"]
        if "PolicyDocument" in policy
        for statement in policy["PolicyDocument"]["Statement"]
    ]
    [write] = [statement for statement in statements if "s3:PutObject" in json.dumps(statement)]
    assert write["Action"] == "s3:PutObject"
    assert write["Resource"] == {"Fn::Sub": "${ResultsBucket.Arn}/results/*"}
    purge = resources["PurgeFunction"]["Properties"]
    assert purge["Environment"]["Variables"]["RESULTS_BUCKET"] == {"Ref": "ResultsBucket"}
    role = resources["PurgeFunctionRole"]["Properties"]["Policies"][0]["PolicyDocument"][
        "Statement"
    ]
    by_sid = {statement["Sid"]: statement for statement in role}
    assert by_sid["FindLargeResults"]["Condition"] == {"StringLike": {"s3:prefix": "results/*"}}
    assert by_sid["RemoveLargeResults"]["Resource"] == {"Fn::Sub": "${ResultsBucket.Arn}/results/*"}
    endpoint = resources["S3GatewayEndpoint"]["Properties"]["PolicyDocument"]["Statement"]
    [results] = [statement for statement in endpoint if statement["Sid"] == "ResultsBucketOnly"]
    assert results["Resource"][1] == {"Fn::Sub": "${ResultsBucket.Arn}/results/*"}
