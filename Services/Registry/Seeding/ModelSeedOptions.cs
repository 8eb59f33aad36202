namespace MsSwift.Registry.Seeding;

/// <summary>
/// One entry of <c>Registry:Seeds</c>: a model the registry registers and promotes at start when
/// no version of it exists yet, so a fresh cluster serves something useful before anything has
/// been trained (the local run seeds <c>demo</c> with the bundled Shakespeare model).
/// </summary>
public sealed class ModelSeedOptions
{
    /// <summary>The registry model to create.</summary>
    public string Model { get; set; } = "";

    /// <summary>The version name it gets.</summary>
    public string Version { get; set; } = "v1";

    /// <summary>
    /// A directory on the registry's file system holding <c>model.safetensors</c> and, optionally,
    /// <c>version.json</c>: the original registration's <c>ModelVersion</c> as protobuf JSON, whose
    /// metrics, dataset hash and source job the seeded version keeps.
    /// </summary>
    public string Directory { get; set; } = "";
}
