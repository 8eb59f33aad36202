using System.Collections.Frozen;
using System.Security.Claims;

namespace MsSwift.Gateway.Auth;

/// <summary>
/// An API key's principal, built once per key (<see cref="ApiKeyRing"/>): its claims as before, plus
/// the scopes they grant (admin: all of them) as a set for <see cref="ApiKeyAccess"/>, and a name
/// that is read without searching the claims (the rate limiter and the caller header ask for it on
/// every request).
/// </summary>
internal sealed class ScopedPrincipal(ClaimsIdentity identity, IReadOnlyCollection<string> scopes) : ClaimsPrincipal(identity)
{
    // Ignoring case, as ASP.NET Core's policy names do: a route naming "Inference" is the inference scope.
    public FrozenSet<string> Allowed { get; } = (scopes.Contains(Scopes.Admin) ? Scopes.All : scopes).ToFrozenSet(StringComparer.OrdinalIgnoreCase);
}

/// <summary>A claims identity whose <see cref="Name"/> is fixed when it is built.</summary>
internal sealed class CallerIdentity(IEnumerable<Claim> claims, string authenticationType, string name) : ClaimsIdentity(claims, authenticationType, ApiKeyAccess.CallerNameClaim, null)
{
    public override string Name { get; } = name;
}
