namespace MsSwift.Registry.Models;

/// <summary>Why a registry operation was refused; each front end maps it to its own status.</summary>
public enum RegistryError
{
    InvalidArgument,
    NotFound,
    AlreadyExists,
    /// <summary>The model's state does not allow the change (deleting the production version, ...).</summary>
    FailedPrecondition,
    /// <summary>The caller's expected revision is not the current one.</summary>
    StaleRevision,
    /// <summary>Another change to the same model committed first; re-read and retry.</summary>
    Conflict,
}

public sealed class RegistryException(RegistryError error, string message) : Exception(message)
{
    public RegistryError Error { get; } = error;
}
