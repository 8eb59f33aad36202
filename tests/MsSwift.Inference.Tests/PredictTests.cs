using System.Text;
using Google.Protobuf;
using Google.Rpc;
using Grpc.Core;
using MsSwift.Contracts.V1;
using MsSwift.Modeling.Generation;
using MsSwift.Modeling.Tokenizers;

namespace MsSwift.Inference.Tests;

/// <summary>ModelService over real gRPC against the real service process.</summary>
[Collection(InferenceServerGroup.Name)]
public sealed class PredictTests(InferenceServerFixture fixture)
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(60);

    private InferenceServer Server => fixture.Server;

    [Fact]
    public async Task Predict_without_a_version_is_served_by_production_with_the_greedy_continuation()
    {
        var expected = await ExpectedGreedyAsync("tiny/v1/model.safetensors", "Hello, model", 12);

        var response = await Server.Client.PredictAsync(Request("Hello, model", 12), deadline: DateTime.UtcNow + Deadline);

        Assert.Equal("v1", response.ModelVersion);
        Assert.Equal("tiny", response.Model);
        Assert.Equal(expected, response.OutputData.ToByteArray());
        Assert.Equal("length", response.FinishReason);
        Assert.Equal(12, response.Usage.PromptTokens);
        Assert.Equal(12, response.Usage.CompletionTokens);
        Assert.Equal("req-1", response.RequestId);
    }

    [Fact]
    public async Task Many_simultaneous_callers_each_get_their_unbatched_greedy_answer()
    {
        var prompts = Enumerable.Range(0, 32).Select(i => $"caller {i}: {new string('z', i % 5)}").ToList();
        var expected = await Task.WhenAll(prompts.Select((prompt, i) => ExpectedGreedyAsync("tiny/v1/model.safetensors", prompt, 6 + i % 9)));

        var responses = await Task.WhenAll(prompts.Select((prompt, i) =>
            Server.Client.PredictAsync(Request(prompt, 6 + i % 9), deadline: DateTime.UtcNow + Deadline).ResponseAsync));

        for (var i = 0; i < prompts.Count; i++)
        {
            Assert.Equal(expected[i], responses[i].OutputData.ToByteArray());
        }
    }

    [Fact]
    public async Task A_pinned_version_is_served_by_that_version()
    {
        var expected = await ExpectedGreedyAsync("tiny/v2/model.safetensors", "pinned", 10);
        var request = Request("pinned", 10);
        request.ModelVersion = "v2";

        var response = await Server.Client.PredictAsync(request, deadline: DateTime.UtcNow + Deadline);

        Assert.Equal("v2", response.ModelVersion);
        Assert.Equal(expected, response.OutputData.ToByteArray());
    }

    [Fact]
    public async Task PredictStream_sends_the_text_in_pieces_then_the_result()
    {
        var request = Request("stream me", 20);
        using var call = Server.Client.PredictStream(request, deadline: DateTime.UtcNow + Deadline);
        var pieces = new List<byte[]>();
        PredictResponse? result = null;

        await foreach (var chunk in call.ResponseStream.ReadAllAsync())
        {
            if (chunk.KindCase == PredictChunk.KindOneofCase.OutputData)
            {
                Assert.Null(result);
                pieces.Add(chunk.OutputData.ToByteArray());
            }
            else
            {
                result = chunk.Result;
            }
        }

        Assert.NotNull(result);
        Assert.True(pieces.Count > 1, $"{pieces.Count} piece(s): the text was not streamed");
        Assert.Equal(result.OutputData.ToByteArray(), pieces.SelectMany(piece => piece).ToArray());
        Assert.Equal(20, result.Usage.CompletionTokens);
    }

    [Fact]
    public async Task An_unknown_version_is_not_found_and_the_error_lists_the_loaded_ones()
    {
        var request = Request("x", 1);
        request.ModelVersion = "v9";

        var error = await Assert.ThrowsAsync<RpcException>(() => Server.Client.PredictAsync(request).ResponseAsync);

        Assert.Equal(StatusCode.NotFound, error.StatusCode);
        Assert.Equal("model 'tiny' has no version 'v9'; available versions: v1, v2", error.Status.Detail);
    }

    [Fact]
    public async Task An_unknown_model_is_not_found()
    {
        var request = Request("x", 1);
        request.Model = "giant";

        var error = await Assert.ThrowsAsync<RpcException>(() => Server.Client.PredictAsync(request).ResponseAsync);

        Assert.Equal(StatusCode.NotFound, error.StatusCode);
        Assert.Equal("unknown model 'giant'; available models: tiny", error.Status.Detail);
    }

    [Fact]
    public async Task Bad_input_and_parameters_are_invalid_arguments_with_every_field_violation()
    {
        var request = new PredictRequest
        {
            Parameters = new GenerationParameters { MaxNewTokens = 0, Temperature = 11, TopP = 0 },
        };

        var error = await Assert.ThrowsAsync<RpcException>(() => Server.Client.PredictAsync(request).ResponseAsync);
        var violations = error.GetRpcStatus()?.GetDetail<BadRequest>()?.FieldViolations.Select(violation => violation.Field).ToList();

        Assert.Equal(StatusCode.InvalidArgument, error.StatusCode);
        Assert.Equal(["input_data", "parameters.max_new_tokens", "parameters.temperature", "parameters.top_p"], violations);
    }

    [Fact]
    public async Task A_prompt_longer_than_the_context_is_an_invalid_argument()
    {
        var error = await Assert.ThrowsAsync<RpcException>(() => Server.Client.PredictAsync(Request(new string('a', 200), 1)).ResponseAsync);

        Assert.Equal(StatusCode.InvalidArgument, error.StatusCode);
        Assert.Contains("input_data: the prompt has 200 tokens; tiny v1 accepts at most 127", error.Status.Detail);
    }

    [Fact]
    public async Task A_deadline_stops_the_call_and_the_service_keeps_serving()
    {
        // Fill every slot (the server has 8) with long streams, and wait until they are generating,
        // so the request with a short deadline has to wait in the queue behind them.
        var generating = 0;
        var allSlotsBusy = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var busy = Enumerable.Range(0, 16).Select(i => Task.Run(async () =>
        {
            using var call = Server.Client.PredictStream(Request($"busy {i}", 120), deadline: DateTime.UtcNow + Deadline);
            PredictResponse? result = null;
            var first = true;
            await foreach (var chunk in call.ResponseStream.ReadAllAsync())
            {
                if (first && Interlocked.Increment(ref generating) == 8)
                {
                    allSlotsBusy.TrySetResult();
                }

                first = false;
                result = chunk.Result ?? result;
            }

            return result!;
        })).ToList();
        await allSlotsBusy.Task.WaitAsync(Deadline);

        var error = await Assert.ThrowsAsync<RpcException>(() =>
            Server.Client.PredictAsync(Request("late", 100), deadline: DateTime.UtcNow.AddMilliseconds(5)).ResponseAsync);
        var completed = await Task.WhenAll(busy);
        var after = await Server.Client.PredictAsync(Request("after", 3), deadline: DateTime.UtcNow + Deadline);

        Assert.Equal(StatusCode.DeadlineExceeded, error.StatusCode);
        Assert.All(completed, response => Assert.Equal(120, response.Usage.CompletionTokens));
        Assert.Equal(3, after.Usage.CompletionTokens);
    }

    [Fact]
    public async Task Stop_sequences_cut_the_answer_and_never_reach_the_stream()
    {
        var free = await Server.Client.PredictAsync(Request("stops", 30), deadline: DateTime.UtcNow + Deadline);
        var text = free.OutputData.ToStringUtf8();
        var stop = text.Substring(10, 3);
        var request = Request("stops", 30);
        request.Parameters.Stop.Add(stop);

        using var call = Server.Client.PredictStream(request, deadline: DateTime.UtcNow + Deadline);
        var streamed = new StringBuilder();
        PredictResponse? result = null;
        await foreach (var chunk in call.ResponseStream.ReadAllAsync())
        {
            if (chunk.KindCase == PredictChunk.KindOneofCase.OutputData)
            {
                streamed.Append(chunk.OutputData.ToStringUtf8());
            }
            else
            {
                result = chunk.Result;
            }
        }

        Assert.Equal("stop", result!.FinishReason);
        Assert.Equal(text[..text.IndexOf(stop, StringComparison.Ordinal)], result.OutputData.ToStringUtf8());
        Assert.Equal(result.OutputData.ToStringUtf8(), streamed.ToString());
    }

    [Fact]
    public async Task Extreme_sampling_parameters_are_answered_and_the_version_keeps_serving_and_stays_ready()
    {
        double[] temperatures = [double.Epsilon, 1e-300, 1e-30, 10];
        foreach (var temperature in temperatures)
        {
            var request = Request("extreme", 8);
            request.Parameters.Temperature = temperature;
            request.Parameters.TopP = double.Epsilon;
            request.Parameters.TopK = int.MaxValue;

            var response = await Server.Client.PredictAsync(request, deadline: DateTime.UtcNow + Deadline);

            Assert.Equal(8, response.Usage.CompletionTokens);
        }

        var expected = await ExpectedGreedyAsync("tiny/v1/model.safetensors", "after the storm", 6);
        var after = await Server.Client.PredictAsync(Request("after the storm", 6), deadline: DateTime.UtcNow + Deadline);
        Assert.Equal(expected, after.OutputData.ToByteArray());
        using var ready = await Server.WaitUntilReadyAsync(TimeSpan.FromSeconds(5));
        Assert.True(ready.IsSuccessStatusCode, await ready.Content.ReadAsStringAsync());
    }

    private static PredictRequest Request(string prompt, int maxNewTokens) => new()
    {
        InputData = ByteString.CopyFromUtf8(prompt),
        RequestId = "req-1",
        Parameters = new GenerationParameters { MaxNewTokens = maxNewTokens },
    };

    private async Task<byte[]> ExpectedGreedyAsync(string checkpoint, string prompt, int maxNewTokens)
    {
        using var loaded = await Server.LoadAsync(checkpoint);
        var result = new TextGenerator(loaded.Model, loaded.Tokenizer).Generate(
            [new GenerationRequest(new ByteTokenizer().Encode(prompt), new GenerationOptions { MaxNewTokens = maxNewTokens })])[0];
        return Encoding.UTF8.GetBytes(result.Text);
    }
}
