using System.ComponentModel;
using Google.Protobuf;
using Grpc.Core;
using MsSwift.Cli.Infrastructure;
using MsSwift.Contracts.V1;
using Spectre.Console.Cli;

namespace MsSwift.Cli.Commands;

internal sealed class PredictSettings : GenerationSettings
{
    [CommandArgument(0, "<PROMPT>")]
    [Description("The text to continue")]
    public string Prompt { get; set; } = "";

    [CommandOption("-s|--stream")]
    [Description("Print the text as it is generated")]
    public bool Stream { get; set; }
}

/// <summary><c>msswift predict "prompt"</c>: ModelService.Predict (or PredictStream) through the gateway.</summary>
internal sealed class PredictCommand(CliEnvironment environment) : GatewayCommand<PredictSettings>(environment)
{
    protected override string Describe(PredictSettings settings) => $"predict with {settings.Model ?? "the default model"}";

    protected override async Task<int> RunAsync(GatewayClient gateway, PredictSettings settings, CancellationToken cancellationToken)
    {
        var request = new PredictRequest
        {
            InputData = ByteString.CopyFromUtf8(settings.Prompt),
            Model = settings.Model ?? "",
            ModelVersion = settings.ModelVersion ?? "",
            Parameters = settings.ToParameters(),
        };
        var result = settings.Stream
            ? await StreamAsync(gateway, request, settings.Json, cancellationToken)
            : await gateway.Models.PredictAsync(request, cancellationToken: cancellationToken);

        if (settings.Json)
        {
            Environment.WriteRawLine(CliJson.Serialize(new
            {
                text = result.OutputData.ToStringUtf8(),
                model = result.Model,
                modelVersion = result.ModelVersion,
                requestId = result.RequestId,
                finishReason = result.FinishReason,
                usage = new { promptTokens = result.Usage?.PromptTokens ?? 0, completionTokens = result.Usage?.CompletionTokens ?? 0 },
            }));
        }
        else
        {
            if (!settings.Stream)
            {
                Environment.WriteRaw(result.OutputData.ToStringUtf8());
            }

            Environment.WriteRawLine("");
            Environment.Error.WriteLine($"[{result.Model} {result.ModelVersion}: {result.Usage?.CompletionTokens ?? 0} tokens, finished: {result.FinishReason}]");
        }

        return ExitCodes.Success;
    }

    /// <summary>Prints pieces as they arrive (as <c>{"text": ...}</c> lines with --json); the result comes last.</summary>
    private async Task<PredictResponse> StreamAsync(GatewayClient gateway, PredictRequest request, bool json, CancellationToken cancellationToken)
    {
        using var call = gateway.Models.PredictStream(request, cancellationToken: cancellationToken);
        // Pieces are whole UTF-8 sequences only at the end: decode across chunk boundaries.
        var decoder = System.Text.Encoding.UTF8.GetDecoder();
        await foreach (var chunk in call.ResponseStream.ReadAllAsync(cancellationToken))
        {
            // The result flushes the decoder: a sequence cut off at the end still prints (as U+FFFD).
            var last = chunk.KindCase == PredictChunk.KindOneofCase.Result;
            var bytes = last ? ReadOnlySpan<byte>.Empty : chunk.OutputData.Span;
            var characters = new char[decoder.GetCharCount(bytes, flush: last)];
            decoder.GetChars(bytes, characters, flush: last);
            if (characters.Length > 0)
            {
                Print(new string(characters), json);
            }

            if (last)
            {
                return chunk.Result;
            }
        }

        throw new CliException("predict failed: the stream ended without a result; retry");
    }

    private void Print(string text, bool json)
    {
        if (json)
        {
            // Text, not protobuf's base64 bytes: what a script wants from a stream.
            Environment.WriteRawLine(CliJson.Serialize(new { text }));
            return;
        }

        Environment.WriteRaw(text);
        Environment.Console.Profile.Out.Writer.Flush();
    }
}
