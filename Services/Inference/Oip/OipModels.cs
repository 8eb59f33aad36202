using Inference;
using MsSwift.Inference.Models;
using MsSwift.Inference.Serving;

namespace MsSwift.Inference.Oip;

/// <summary>
/// Server and model metadata and readiness as the Open Inference Protocol reports them, read
/// from the <see cref="ModelCatalog"/>: a version is ready when this replica has it loaded and its
/// engine is not being reloaded after a failure; no version named means the production one.
/// </summary>
internal sealed class OipModels(ModelCatalog catalog)
{
    public const string ServerName = "msswift";

    /// <summary>What runs the models (the protocol's "platform"): TorchSharp GPT-style text models.</summary>
    public const string Platform = "torchsharp_gpt";

    private static readonly long[] AnyLength = [-1];

    public static string ServerVersion { get; } = typeof(OipModels).Assembly.GetName().Version?.ToString() ?? "0";

    /// <summary>Ready as <c>/healthz</c> is: some model has a production version and no production engine is down.</summary>
    public bool ServerReady => catalog.IsReady && !catalog.Faulted.Keys.Any(key => catalog.IsProduction(key.Model, key.Version));

    /// <summary>False for a model or version this replica does not serve, as for one that cannot serve right now.</summary>
    public bool ModelReady(string model, string? version, VersionPins pins)
    {
        try
        {
            var served = catalog.Resolve(model, version, pins);
            return !catalog.Faulted.ContainsKey((served.Name, served.Version));
        }
        catch (ModelNotFoundException)
        {
            return false;
        }
    }

    /// <summary>The model's metadata; throws <see cref="PredictException"/> (NotFound) for an unknown model or version.</summary>
    public ModelMetadataResponse Metadata(string model, string? version)
    {
        try
        {
            catalog.Resolve(model, version);
        }
        catch (ModelNotFoundException error)
        {
            throw PredictException.NotFound(error.Message);
        }

        return new ModelMetadataResponse
        {
            Name = model,
            Versions = { catalog.Loaded().Where(entry => entry.Model == model).Select(entry => entry.Version) },
            Platform = Platform,
            Inputs = { new ModelMetadataResponse.Types.TensorMetadata { Name = OipTensors.InputName, Datatype = OipTensors.Bytes, Shape = { AnyLength } } },
            Outputs = { new ModelMetadataResponse.Types.TensorMetadata { Name = OipTensors.OutputName, Datatype = OipTensors.Bytes, Shape = { AnyLength } } },
        };
    }

    public static ServerMetadataResponse ServerMetadata() => new() { Name = ServerName, Version = ServerVersion };
}
