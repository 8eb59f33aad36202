using System.Buffers.Binary;
using System.Text;
using Google.Protobuf;
using Google.Rpc;
using Grpc.Core;
using Inference;
using MsSwift.Modeling.Generation;

namespace MsSwift.Inference.Tests;

/// <summary>
/// The Open Inference Protocol's <c>inference.GRPCInferenceService</c>, called with a client
/// compiled from the published KServe proto (the copy in Contracts, kept verbatim), over a real socket.
/// </summary>
[Collection(InferenceServerGroup.Name)]
public sealed class OipGrpcTests(InferenceServerFixture fixture)
{
    private GRPCInferenceService.GRPCInferenceServiceClient Client => new(fixture.Server.Channel);

    [Fact]
    public async Task The_server_is_live_and_ready_and_a_registered_model_is_ready_by_version()
    {
        var live = await Client.ServerLiveAsync(new ServerLiveRequest());
        var ready = await Client.ServerReadyAsync(new ServerReadyRequest());
        var production = await Client.ModelReadyAsync(new ModelReadyRequest { Name = "tiny" });
        var v2 = await Client.ModelReadyAsync(new ModelReadyRequest { Name = "tiny", Version = "v2" });
        var unknownVersion = await Client.ModelReadyAsync(new ModelReadyRequest { Name = "tiny", Version = "v9" });
        var unknownModel = await Client.ModelReadyAsync(new ModelReadyRequest { Name = "nope" });

        Assert.True(live.Live);
        Assert.True(ready.Ready);
        Assert.True(production.Ready);
        Assert.True(v2.Ready);
        Assert.False(unknownVersion.Ready);
        Assert.False(unknownModel.Ready);
    }

    [Fact]
    public async Task Model_metadata_names_the_versions_and_the_text_tensors()
    {
        var metadata = await Client.ModelMetadataAsync(new ModelMetadataRequest { Name = "tiny" });
        var server = await Client.ServerMetadataAsync(new ServerMetadataRequest());

        Assert.Equal("tiny", metadata.Name);
        Assert.Equal(["v1", "v2"], metadata.Versions.Order());
        Assert.Equal("torchsharp_gpt", metadata.Platform);
        Assert.Equal(("text_input", "BYTES", -1L), (metadata.Inputs.Single().Name, metadata.Inputs.Single().Datatype, metadata.Inputs.Single().Shape.Single()));
        Assert.Equal(("text_output", "BYTES", -1L), (metadata.Outputs.Single().Name, metadata.Outputs.Single().Datatype, metadata.Outputs.Single().Shape.Single()));
        Assert.Equal("msswift", server.Name);
    }

    [Fact]
    public async Task Infer_answers_each_prompt_of_a_bytes_tensor_with_the_greedy_text()
    {
        var expected = new[] { await GreedyAsync("Once upon", 8), await GreedyAsync("a time", 8) };
        var request = Infer("tiny", shape: [2], "Once upon", "a time");
        request.Id = "req-7";
        request.Parameters["max_tokens"] = new InferParameter { Int64Param = 8 };
        request.Parameters["temperature"] = new InferParameter { StringParam = "0" };

        var response = await Client.ModelInferAsync(request);

        var output = response.Outputs.Single();
        Assert.Equal(("tiny", "v1", "req-7"), (response.ModelName, response.ModelVersion, response.Id));
        Assert.Equal(("text_output", "BYTES"), (output.Name, output.Datatype));
        Assert.Equal([2L], output.Shape);
        Assert.Equal(expected, output.Contents.BytesContents.Select(element => element.ToStringUtf8()));
        Assert.Equal(16, response.Parameters["completion_tokens"].Int64Param);
    }

    [Fact]
    public async Task Infer_with_raw_input_contents_as_tritonclient_sends_them_answers_raw()
    {
        var expected = await GreedyAsync("Once upon", 6);
        var request = new ModelInferRequest
        {
            ModelName = "tiny",
            ModelVersion = "v1",
            Inputs = { new ModelInferRequest.Types.InferInputTensor { Name = "text_input", Datatype = "BYTES", Shape = { 1, 1 } } },
            RawInputContents = { RawBytes("Once upon") },
            Parameters = { ["max_tokens"] = new InferParameter { Int64Param = 6 } },
        };

        var response = await Client.ModelInferAsync(request);

        Assert.Equal([1L, 1L], response.Outputs.Single().Shape);
        Assert.Null(response.Outputs.Single().Contents);
        var raw = response.RawOutputContents.Single().Span;
        Assert.Equal(raw.Length - 4, (int)BinaryPrimitives.ReadUInt32LittleEndian(raw));
        Assert.Equal(expected, Encoding.UTF8.GetString(raw[4..]));
    }

    [Fact]
    public async Task Infer_serves_a_named_version()
    {
        var expected = await GreedyAsync("Once upon", 5, version: "v2");
        var request = Infer("tiny", shape: [1], "Once upon");
        request.ModelVersion = "v2";
        request.Parameters["max_tokens"] = new InferParameter { Int64Param = 5 };

        var response = await Client.ModelInferAsync(request);

        Assert.Equal("v2", response.ModelVersion);
        Assert.Equal(expected, response.Outputs.Single().Contents.BytesContents.Single().ToStringUtf8());
    }

    [Fact]
    public async Task An_unknown_model_or_version_is_not_found()
    {
        var model = await Assert.ThrowsAsync<RpcException>(() => Client.ModelInferAsync(Infer("nope", shape: [1], "hi")).ResponseAsync);
        var versioned = Infer("tiny", shape: [1], "hi");
        versioned.ModelVersion = "v9";
        var version = await Assert.ThrowsAsync<RpcException>(() => Client.ModelInferAsync(versioned).ResponseAsync);
        var metadata = await Assert.ThrowsAsync<RpcException>(() => Client.ModelMetadataAsync(new ModelMetadataRequest { Name = "nope" }).ResponseAsync);

        Assert.Equal(StatusCode.NotFound, model.StatusCode);
        Assert.Contains("nope", model.Status.Detail);
        Assert.Equal(StatusCode.NotFound, version.StatusCode);
        Assert.Contains("v9", version.Status.Detail);
        Assert.Equal(StatusCode.NotFound, metadata.StatusCode);
    }

    public static TheoryData<string, string> MalformedTensors => new()
    {
        { "wrong datatype", "inputs[0].datatype" },
        { "shape bigger than contents", "inputs[0].contents" },
        { "empty shape", "inputs[0].shape" },
        { "negative dimension", "inputs[0].shape" },
        { "overflowing shape", "inputs[0].shape" },
        { "zero prompts", "inputs[0].shape" },
        { "more prompts than the queue holds", "inputs[0].shape" },
        { "no inputs", "inputs" },
        { "unknown input name", "inputs[0].name" },
        { "two inputs", "inputs" },
        { "fp32 contents in a BYTES tensor", "inputs[0].contents" },
        { "truncated raw contents", "raw_input_contents[0]" },
        { "raw and typed contents together", "raw_input_contents" },
        { "unknown output", "outputs[0].name" },
        { "no model name", "model_name" },
        { "empty prompt", "text_input" },
        { "prompt longer than the context", "text_input[1]" },
        { "max_tokens not an integer", "parameters.max_tokens" },
        { "temperature not a number", "parameters.temperature" },
        { "negative max_tokens", "parameters.max_tokens" },
        { "stop not a string", "parameters.stop" },
    };

    [Theory]
    [MemberData(nameof(MalformedTensors))]
    public async Task A_malformed_request_is_invalid_argument_naming_the_field(string malformation, string field)
    {
        var request = Malformed(malformation);

        var error = await Assert.ThrowsAsync<RpcException>(() => Client.ModelInferAsync(request).ResponseAsync);

        Assert.Equal(StatusCode.InvalidArgument, error.StatusCode);
        var violations = error.GetRpcStatus()?.GetDetail<BadRequest>();
        Assert.NotNull(violations);
        Assert.Contains(field, violations.FieldViolations.Select(violation => violation.Field));
    }

    [Fact]
    public async Task The_server_still_serves_after_every_malformed_request()
    {
        foreach (var malformation in MalformedTensors.Select(row => (string)row[0]))
        {
            await Assert.ThrowsAsync<RpcException>(() => Client.ModelInferAsync(Malformed(malformation)).ResponseAsync);
        }

        var response = await Client.ModelInferAsync(Infer("tiny", shape: [1], "still here"));

        Assert.Single(response.Outputs.Single().Contents.BytesContents);
    }

    private static ModelInferRequest Malformed(string malformation)
    {
        var request = Infer("tiny", shape: [1], "hi");
        var input = request.Inputs[0];
        switch (malformation)
        {
            case "wrong datatype":
                input.Datatype = "FP32";
                break;
            case "shape bigger than contents":
                input.Shape[0] = 3;
                break;
            case "empty shape":
                input.Shape.Clear();
                break;
            case "negative dimension":
                input.Shape[0] = -1;
                break;
            case "overflowing shape":
                input.Shape.Clear();
                input.Shape.AddRange([long.MaxValue, long.MaxValue]);
                break;
            case "zero prompts":
                input.Shape[0] = 0;
                input.Contents.BytesContents.Clear();
                break;
            case "more prompts than the queue holds":
                input.Shape[0] = 1_000_000;
                break;
            case "no inputs":
                request.Inputs.Clear();
                break;
            case "unknown input name":
                input.Name = "prompt";
                break;
            case "two inputs":
                request.Inputs.Add(input.Clone());
                break;
            case "fp32 contents in a BYTES tensor":
                input.Contents.Fp32Contents.Add(1f);
                break;
            case "truncated raw contents":
                input.Contents = null;
                request.RawInputContents.Add(ByteString.CopyFrom(RawBytes("hello").Span[..6]));
                break;
            case "raw and typed contents together":
                request.RawInputContents.Add(RawBytes("hello"));
                break;
            case "unknown output":
                request.Outputs.Add(new ModelInferRequest.Types.InferRequestedOutputTensor { Name = "logits" });
                break;
            case "no model name":
                request.ModelName = "";
                break;
            case "empty prompt":
                input.Contents.BytesContents[0] = ByteString.Empty;
                break;
            case "prompt longer than the context":
                input.Shape[0] = 2;
                input.Contents.BytesContents.Add(ByteString.CopyFromUtf8(new string('x', InferenceServer.Config.ContextLength + 10)));
                break;
            case "max_tokens not an integer":
                request.Parameters["max_tokens"] = new InferParameter { StringParam = "many" };
                break;
            case "temperature not a number":
                request.Parameters["temperature"] = new InferParameter { BoolParam = true };
                break;
            case "negative max_tokens":
                request.Parameters["max_tokens"] = new InferParameter { Int64Param = -5 };
                break;
            case "stop not a string":
                request.Parameters["stop"] = new InferParameter { Int64Param = 3 };
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(malformation), malformation, null);
        }

        return request;
    }

    internal static ModelInferRequest Infer(string model, long[] shape, params string[] prompts) => new()
    {
        ModelName = model,
        Inputs =
        {
            new ModelInferRequest.Types.InferInputTensor
            {
                Name = "text_input",
                Datatype = "BYTES",
                Shape = { shape },
                Contents = new InferTensorContents { BytesContents = { prompts.Select(ByteString.CopyFromUtf8) } },
            },
        },
    };

    /// <summary>One BYTES element in the protocol's raw layout: a little-endian uint32 length, then the bytes.</summary>
    private static ByteString RawBytes(string text)
    {
        var bytes = Encoding.UTF8.GetBytes(text);
        var raw = new byte[4 + bytes.Length];
        BinaryPrimitives.WriteUInt32LittleEndian(raw, (uint)bytes.Length);
        bytes.CopyTo(raw, 4);
        return ByteString.CopyFrom(raw);
    }

    private async Task<string> GreedyAsync(string prompt, int maxNewTokens, string version = "v1")
    {
        using var loaded = await fixture.Server.LoadAsync($"tiny/{version}/model.safetensors");
        return new TextGenerator(loaded.Model, loaded.Tokenizer).Generate(prompt, new GenerationOptions { MaxNewTokens = maxNewTokens }).Text;
    }
}
