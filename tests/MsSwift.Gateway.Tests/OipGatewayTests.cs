using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Google.Protobuf;
using Grpc.Core;
using Inference;

namespace MsSwift.Gateway.Tests;

/// <summary>
/// The Open Inference Protocol through the real gateway: the same keys and the <c>inference</c>
/// scope as the other model routes, and the gateway's own refusals in the protocol's shapes.
/// </summary>
[Collection(GatewayClusterGroup.Name)]
public sealed class OipGatewayTests(GatewayCluster cluster)
{
    private const string InferBody = """{"inputs":[{"name":"text_input","shape":[1],"datatype":"BYTES","data":["Once upon"]}],"parameters":{"max_tokens":4}}""";

    [Fact]
    public async Task Rest_infer_and_health_pass_with_a_key_and_are_refused_in_the_protocols_shape_without_one()
    {
        using var anonymous = cluster.Http(null);
        using var user = cluster.Http(GatewayCluster.UserKey);

        var refused = await anonymous.PostAsync("/v2/models/tiny/infer", Json(InferBody));
        var refusedHealth = await anonymous.GetAsync("/v2/health/ready");
        var served = await user.PostAsync("/v2/models/tiny/infer", Json(InferBody));
        var ready = await user.GetAsync("/v2/models/tiny/ready");
        var unknown = await user.PostAsync("/v2/models/nope/infer", Json(InferBody));

        Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        Assert.Contains("Unauthenticated", (await refused.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error").GetString());
        Assert.Equal(HttpStatusCode.Unauthorized, refusedHealth.StatusCode);
        Assert.Equal(HttpStatusCode.OK, served.StatusCode);
        var output = (await served.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("outputs")[0];
        Assert.Equal("text_output", output.GetProperty("name").GetString());
        Assert.Equal(JsonValueKind.String, output.GetProperty("data")[0].ValueKind);
        Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
        Assert.Contains("nope", (await unknown.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error").GetString());
    }

    [Fact]
    public async Task Grpc_inference_service_passes_with_a_key_and_is_unauthenticated_without_one()
    {
        var client = new GRPCInferenceService.GRPCInferenceServiceClient(cluster.GrpcChannel);
        var request = new ModelInferRequest
        {
            ModelName = "tiny",
            Inputs =
            {
                new ModelInferRequest.Types.InferInputTensor
                {
                    Name = "text_input",
                    Datatype = "BYTES",
                    Shape = { 1 },
                    Contents = new InferTensorContents { BytesContents = { ByteString.CopyFromUtf8("Once upon") } },
                },
            },
            Parameters = { ["max_tokens"] = new InferParameter { Int64Param = 4 } },
        };

        var anonymous = await Assert.ThrowsAsync<RpcException>(() => client.ServerLiveAsync(new ServerLiveRequest(), GatewayCluster.Credentials(null)).ResponseAsync);
        var live = await client.ServerLiveAsync(new ServerLiveRequest(), GatewayCluster.Credentials(GatewayCluster.UserKey));
        var metadata = await client.ModelMetadataAsync(new ModelMetadataRequest { Name = "tiny" }, GatewayCluster.Credentials(GatewayCluster.UserKey));
        var response = await client.ModelInferAsync(request, GatewayCluster.Credentials(GatewayCluster.UserKey));
        request.Inputs[0].Datatype = "INT32";
        var malformed = await Assert.ThrowsAsync<RpcException>(() => client.ModelInferAsync(request, GatewayCluster.Credentials(GatewayCluster.UserKey)).ResponseAsync);

        Assert.Equal(StatusCode.Unauthenticated, anonymous.StatusCode);
        Assert.True(live.Live);
        Assert.Equal("tiny", metadata.Name);
        Assert.Equal("tiny", response.ModelName);
        Assert.Single(response.Outputs.Single().Contents.BytesContents);
        Assert.Equal(StatusCode.InvalidArgument, malformed.StatusCode);
        Assert.Contains("BYTES", malformed.Status.Detail);
    }

    private static StringContent Json(string body) => new(body, Encoding.UTF8, "application/json");
}
