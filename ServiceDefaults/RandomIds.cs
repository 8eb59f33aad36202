using System.Security.Cryptography;

namespace MsSwift.ServiceDefaults;

/// <summary>
/// Unguessable ids for requests and responses: 128 random bits as 32 lowercase hex digits, the
/// format of <c>Guid.ToString("N")</c>. They come from the process's cryptographic generator
/// (OpenSSL's, in user space), not <see cref="Guid.NewGuid"/>, which on Linux reads /dev/urandom
/// for every id: strace counted one <c>read</c> system call per request through the gateway.
/// </summary>
public static class RandomIds
{
    public static string New()
    {
        Span<byte> bits = stackalloc byte[16];
        RandomNumberGenerator.Fill(bits);
        return Convert.ToHexStringLower(bits);
    }
}
