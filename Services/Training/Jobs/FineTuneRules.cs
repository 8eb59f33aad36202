using System.Text.Json;
using MsSwift.Contracts.Data.V1;
using MsSwift.Contracts.Registry.V1;
using MsSwift.Contracts.V1;
using MsSwift.Modeling.Gpt;
using MsSwift.ServiceDefaults.Errors;

namespace MsSwift.Training.Jobs;

/// <summary>
/// Whether a Train request may start from a registered version (<c>init_from</c>), as a pure
/// function of the request, the registered model and the dataset: the version must exist, not be
/// archived or quantized, record its shape, share the dataset's tokenizer, and agree with any shape the
/// request names. On success the request is completed from the version (shape filled, the version
/// pinned), so everything after it (the job record, the workers' replicas, a takeover) sees the
/// same model whatever is promoted meanwhile.
/// </summary>
public static class FineTuneRules
{
    /// <summary>
    /// The request completed from the version it starts from, and that version; throws
    /// <see cref="ServiceException"/> (InvalidArgument, with field violations) when it may not start from it.
    /// </summary>
    public static (TrainRequest Request, ModelVersion Version) Adopt(TrainRequest request, RegisteredModel model, DatasetInfo dataset)
    {
        var source = request.InitFrom ?? throw new ArgumentException("the request does not fine-tune", nameof(request));
        var version = Pick(source, model);
        var config = Config(source, version);
        var violations = new List<FieldViolation>();
        if (version.Tokenizer != dataset.Tokenizer || config.VocabSize != dataset.VocabSize)
        {
            violations.Add(new("dataset",
                $"dataset '{dataset.Name}' is tokenized with '{dataset.Tokenizer}' ({dataset.VocabSize} tokens) but {Name(source.Model, version)} with '{version.Tokenizer}' ({config.VocabSize}); ingest the text again with tokenizer '{version.Tokenizer}'"));
        }

        var shape = request.Shape ?? new ModelShape();
        var differing = new (string Field, int Requested, int Version)[]
        {
            ("layers", shape.Layers, config.Layers), ("heads", shape.Heads, config.Heads),
            ("width", shape.Width, config.Width), ("context_length", shape.ContextLength, config.ContextLength),
        }.Where(field => field.Requested != 0 && field.Requested != field.Version).ToList();
        if (differing.Count > 0)
        {
            violations.Add(new("shape",
                $"a fine-tuned model keeps the shape of {Name(source.Model, version)}: leave shape unset or give its values ({string.Join(", ", differing.Select(field => $"{field.Field} {field.Version}, not {field.Requested}"))})"));
        }

        if (request.Window > config.ContextLength)
        {
            violations.Add(new("window", $"8 to the context length of {Name(source.Model, version)} ({config.ContextLength})"));
        }

        if (violations.Count > 0)
        {
            throw Refused(source, violations);
        }

        var adopted = request.Clone();
        adopted.Shape = new ModelShape { Layers = config.Layers, Heads = config.Heads, Width = config.Width, ContextLength = config.ContextLength };
        adopted.InitFrom.Version = version.Version;
        return (adopted, version);
    }

    /// <summary>The model shape the version was registered with, as training builds it.</summary>
    public static GptConfig Config(ModelVersionRef source, ModelVersion version)
    {
        GptConfig? config;
        try
        {
            config = version.ConfigJson.Length == 0 ? null : JsonSerializer.Deserialize<GptConfig>(version.ConfigJson);
        }
        catch (JsonException)
        {
            config = null;
        }

        // Training builds every model with the default epsilon; a version made elsewhere with another would not be the same model.
        return config is not null && config.LayerNormEpsilon == new GptConfig().LayerNormEpsilon
            ? config
            : throw Refused(source, [new("init_from.version", $"{Name(source.Model, version)} records no model shape this service trains (config: '{version.ConfigJson}')")]);
    }

    /// <summary>The named version, or the production one when none is named; refused when unknown or archived.</summary>
    public static ModelVersion Pick(ModelVersionRef source, RegisteredModel model)
    {
        var name = source.Version.Length > 0 ? source.Version : model.ProductionVersion;
        if (name.Length == 0)
        {
            throw Refused(source, [new("init_from.version", $"model '{model.Name}' has no production version; name the version to start from")]);
        }

        var version = model.Versions.FirstOrDefault(candidate => candidate.Version == name)
            ?? throw Refused(source, [new("init_from.version", $"model '{model.Name}' has no version '{name}'; versions: {string.Join(", ", model.Versions.Select(candidate => candidate.Version))}")]);

        // Archived means retired from use (it cannot be promoted either); starting from it needs a deliberate re-registration.
        if (version.Stage == Stage.Archived)
        {
            throw Refused(source, [new("init_from.version", $"{Name(model.Name, version)} is archived; register its checkpoint again to start from it")]);
        }

        // Training updates fp32 weights; an int8 copy has lost what fine-tuning would start from.
        return version.Quantization.Length > 0
            ? throw Refused(source, [new("init_from.version", $"{Name(model.Name, version)} is a {version.Quantization} copy; fine-tune from the version it was made from{(version.ParentVersion.Length > 0 ? $", '{version.ParentVersion}'" : "")}")])
            : version;
    }

    public static ServiceException Refused(ModelVersionRef source, IReadOnlyList<FieldViolation> violations) =>
        new(ServiceError.InvalidArgument,
            $"cannot fine-tune from {source.Model}{(source.Version.Length > 0 ? " " + source.Version : "")}: {string.Join("; ", violations.Select(violation => $"{violation.Field}: {violation.Description}"))}",
            violations);

    private static string Name(string model, ModelVersion version) => $"'{model}' {version.Version}";
}
