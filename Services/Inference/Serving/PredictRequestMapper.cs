using System.Text;
using Google.Rpc;
using MsSwift.Contracts.V1;
using MsSwift.Inference.Models;
using MsSwift.Modeling.Generation;
using MsSwift.Modeling.Tokenizers;

namespace MsSwift.Inference.Serving;

/// <summary>Checks a <see cref="PredictRequest"/> against the model that will serve it and builds the generation request.</summary>
internal static class PredictRequestMapper
{
    private const int DefaultMaxNewTokens = 64;

    private static readonly Dictionary<string, string> ProtoFields = new()
    {
        [nameof(GenerationOptions.MaxNewTokens)] = "parameters.max_new_tokens",
        [nameof(GenerationOptions.Temperature)] = "parameters.temperature",
        [nameof(GenerationOptions.TopK)] = "parameters.top_k",
        [nameof(GenerationOptions.TopP)] = "parameters.top_p",
        [nameof(GenerationOptions.StopSequences)] = "parameters.stop",
    };

    public static GenerationOptions Options(PredictRequest request)
    {
        var parameters = request.Parameters ?? new GenerationParameters();
        return new GenerationOptions
        {
            MaxNewTokens = parameters.MaxNewTokens ?? DefaultMaxNewTokens,
            Temperature = parameters.Temperature,
            TopK = parameters.TopK,
            TopP = parameters.TopP ?? 1.0,
            StopSequences = parameters.Stop.ToList(),
            Seed = parameters.Seed,
        };
    }

    /// <summary>The request, or every field violation found (input, then parameters).</summary>
    public static (GenerationRequest? Request, BadRequest? Violations) Map(PredictRequest request, ServedModel model) =>
        Map(request, model.Loaded.Tokenizer, model.Loaded.Model.Config.ContextLength, $"{model.Name} {model.Version}");

    /// <summary>
    /// <see cref="Map(PredictRequest, ServedModel)"/> for a model with <paramref name="tokenizer"/>
    /// and <paramref name="contextLength"/>, named <paramref name="served"/> in messages. A prompt
    /// whose length in bytes already proves it too long for the context is refused before it is
    /// decoded or tokenised (<see cref="PromptLength"/>).
    /// </summary>
    internal static (GenerationRequest? Request, BadRequest? Violations) Map(PredictRequest request, ITokenizer tokenizer, int contextLength, string served)
    {
        var violations = new BadRequest();
        var options = Options(request);
        IReadOnlyList<int> prompt = [];
        var bytes = request.InputData.Length;
        if (bytes == 0)
        {
            Add(violations, "input_data", "must not be empty");
        }
        else if (PromptLength.CannotFit(tokenizer, contextLength, bytes))
        {
            // Byte models have one token per byte: the count is exact.
            var tokens = tokenizer is ByteTokenizer ? $"{bytes} tokens" : $"{bytes} bytes, so at least {PromptLength.MinTokens(tokenizer, bytes)} tokens";
            Add(violations, "input_data", $"the prompt has {tokens}; {served} accepts at most {contextLength - 1}");
        }
        else if (Encode(request.InputData.Span, tokenizer) is { } encoded)
        {
            prompt = encoded;
            if (prompt.Count >= contextLength)
            {
                Add(violations, "input_data", $"the prompt has {prompt.Count} tokens; {served} accepts at most {contextLength - 1}");
            }
        }
        else
        {
            Add(violations, "input_data", "is not valid UTF-8");
        }

        foreach (var (field, message) in options.Violations())
        {
            Add(violations, ProtoFields[field], message);
        }

        return violations.FieldViolations.Count == 0 ? (new GenerationRequest(prompt, options), null) : (null, violations);
    }

    private static IReadOnlyList<int>? Encode(ReadOnlySpan<byte> input, ITokenizer tokenizer)
    {
        // Byte models take the prompt bytes as they are, one token each.
        if (tokenizer is ByteTokenizer)
        {
            var ids = new int[input.Length];
            for (var i = 0; i < input.Length; i++)
            {
                ids[i] = input[i];
            }

            return ids;
        }

        try
        {
            return tokenizer.Encode(new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(input));
        }
        catch (DecoderFallbackException)
        {
            return null;
        }
    }

    private static void Add(BadRequest violations, string field, string description) =>
        violations.FieldViolations.Add(new BadRequest.Types.FieldViolation { Field = field, Description = description });
}
