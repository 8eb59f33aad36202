namespace MsSwift.Contracts;

/// <summary>Headers the gateway adds to forwarded requests: part of the contract between the gateway and the services.</summary>
public static class MsSwiftHeaders
{
    /// <summary>
    /// Canary routing: <c>model=version[,model=version]</c>, the version the gateway drew for each
    /// model with a canary. A service uses it only for a request that names no version, and only
    /// when it has that version loaded.
    /// </summary>
    public const string VersionPins = "x-msswift-version-pins";

    /// <summary>The name of the API key the gateway authenticated (never the key).</summary>
    public const string Caller = "x-msswift-caller";
}
