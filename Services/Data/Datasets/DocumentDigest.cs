using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

namespace MsSwift.Data.Datasets;

/// <summary>
/// A document's SHA-256 as two 128-bit halves (big-endian), 32 bytes instead of a 64-character
/// string: ingest remembers one per distinct document (to drop duplicates and to hash the
/// version), so this is what its memory grows with, not the tokens. Ordering the halves orders
/// the bytes, which is also the order of the lowercase hex strings the version hash is built from.
/// </summary>
public readonly record struct DocumentDigest(UInt128 High, UInt128 Low)
{
    public static DocumentDigest Of(string document)
    {
        Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(Encoding.UTF8.GetBytes(document), hash);
        return new(BinaryPrimitives.ReadUInt128BigEndian(hash), BinaryPrimitives.ReadUInt128BigEndian(hash[16..]));
    }

    /// <summary>The first two bytes of the hash as a number (0-65535): what assigns a document to a split.</summary>
    public int Bucket => (int)(High >> 112);

    /// <summary>Byte order of the hashes.</summary>
    public static int Compare(DocumentDigest left, DocumentDigest right) =>
        left.High != right.High ? left.High.CompareTo(right.High) : left.Low.CompareTo(right.Low);

    /// <summary>The hash as lowercase hex, as it was hashed into versions before digests were kept as numbers.</summary>
    public string ToHex()
    {
        Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
        BinaryPrimitives.WriteUInt128BigEndian(hash, High);
        BinaryPrimitives.WriteUInt128BigEndian(hash[16..], Low);
        return Convert.ToHexStringLower(hash);
    }
}
