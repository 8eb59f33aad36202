namespace MsSwift.Gateway.Auth;

/// <summary>What an API key may do. Routes name the scope they need as their authorization policy.</summary>
public static class Scopes
{
    /// <summary>Predict, PredictStream and the OpenAI-compatible API.</summary>
    public const string Inference = "inference";

    /// <summary>Starting and watching training jobs.</summary>
    public const string Training = "training";

    /// <summary>Reading models and versions from the registry.</summary>
    public const string RegistryRead = "registry.read";

    /// <summary>Changing the registry (register, promote, roll back, canary, archive, delete); implies every other scope.</summary>
    public const string Admin = "admin";

    public const string ClaimType = "scope";

    public static IReadOnlyList<string> All { get; } = [Inference, Training, RegistryRead, Admin];
}
