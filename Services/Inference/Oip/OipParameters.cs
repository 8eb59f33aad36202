using System.Globalization;
using Google.Protobuf.Collections;
using Google.Rpc;
using Inference;
using MsSwift.Contracts.V1;
using MsSwift.Inference.Serving;

namespace MsSwift.Inference.Oip;

/// <summary>
/// Generation options from an inference request's <c>parameters</c>, named as Triton's vLLM and
/// TensorRT-LLM backends name them: <c>max_tokens</c>, <c>temperature</c>, <c>top_k</c>,
/// <c>top_p</c>, <c>seed</c>, <c>stop</c>. The published proto's parameter has no double, so a
/// fractional value travels as a string (<c>"0.7"</c>) over gRPC; REST numbers are taken as they are.
/// Other parameters are the protocol's own or a client's (tritonclient sends some) and are ignored.
/// </summary>
internal static class OipParameters
{
    public const string MaxTokens = "max_tokens";
    public const string Temperature = "temperature";
    public const string TopK = "top_k";
    public const string TopP = "top_p";
    public const string Seed = "seed";
    public const string Stop = "stop";

    /// <summary>The serving path's field names as this protocol names them, for its error messages.</summary>
    public static readonly IReadOnlyDictionary<string, string> FromPredictFields = new Dictionary<string, string>
    {
        ["parameters.max_new_tokens"] = $"parameters.{MaxTokens}",
        ["parameters.temperature"] = $"parameters.{Temperature}",
        ["parameters.top_k"] = $"parameters.{TopK}",
        ["parameters.top_p"] = $"parameters.{TopP}",
        ["parameters.stop"] = $"parameters.{Stop}",
    };

    /// <summary>The options; throws <see cref="PredictException"/> (InvalidArgument) for a known parameter of the wrong type.</summary>
    public static GenerationParameters Read(MapField<string, InferParameter> parameters)
    {
        var violations = new BadRequest();
        var options = new GenerationParameters();
        if (Integer(parameters, MaxTokens, violations) is { } maxTokens)
        {
            options.MaxNewTokens = (int)Math.Clamp(maxTokens, int.MinValue, int.MaxValue);
        }

        if (Number(parameters, Temperature, violations) is { } temperature)
        {
            options.Temperature = temperature;
        }

        if (Integer(parameters, TopK, violations) is { } topK)
        {
            options.TopK = (int)Math.Clamp(topK, int.MinValue, int.MaxValue);
        }

        if (Number(parameters, TopP, violations) is { } topP)
        {
            options.TopP = topP;
        }

        if (Integer(parameters, Seed, violations) is { } seed)
        {
            options.Seed = seed;
        }

        if (parameters.TryGetValue(Stop, out var stop))
        {
            if (stop.ParameterChoiceCase == InferParameter.ParameterChoiceOneofCase.StringParam)
            {
                options.Stop.Add(stop.StringParam);
            }
            else
            {
                OipTensors.Add(violations, $"parameters.{Stop}", "must be a string (one stop sequence)");
            }
        }

        if (violations.FieldViolations.Count > 0)
        {
            throw PredictException.InvalidArgument(violations);
        }

        return options;
    }

    private static long? Integer(MapField<string, InferParameter> parameters, string name, BadRequest violations)
    {
        if (!parameters.TryGetValue(name, out var value))
        {
            return null;
        }

        if (value.ParameterChoiceCase == InferParameter.ParameterChoiceOneofCase.Int64Param)
        {
            return value.Int64Param;
        }

        if (value.ParameterChoiceCase == InferParameter.ParameterChoiceOneofCase.StringParam
            && long.TryParse(value.StringParam, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var parsed))
        {
            return parsed;
        }

        OipTensors.Add(violations, $"parameters.{name}", "must be an integer");
        return null;
    }

    private static double? Number(MapField<string, InferParameter> parameters, string name, BadRequest violations)
    {
        if (!parameters.TryGetValue(name, out var value))
        {
            return null;
        }

        if (value.ParameterChoiceCase == InferParameter.ParameterChoiceOneofCase.Int64Param)
        {
            return value.Int64Param;
        }

        if (value.ParameterChoiceCase == InferParameter.ParameterChoiceOneofCase.StringParam
            && double.TryParse(value.StringParam, NumberStyles.Float, CultureInfo.InvariantCulture, out var parsed) && double.IsFinite(parsed))
        {
            return parsed;
        }

        OipTensors.Add(violations, $"parameters.{name}", "must be a number (over gRPC, an int64 or a decimal string such as \"0.7\")");
        return null;
    }
}
