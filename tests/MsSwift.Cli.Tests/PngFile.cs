using System.Buffers.Binary;
using SkiaSharp;

namespace MsSwift.Cli.Tests;

/// <summary>Checks on a PNG a plot wrote: its header, and how much of it is drawn in a colour.</summary>
internal static class PngFile
{
    private static readonly byte[] Signature = [0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A];

    /// <summary>
    /// The size in the IHDR chunk, which the PNG format puts first, right after the signature.
    /// Throws when the file does not start like a PNG.
    /// </summary>
    public static (int Width, int Height) HeaderSize(string path)
    {
        var bytes = File.ReadAllBytes(path);
        if (bytes.Length < 24 || !bytes.AsSpan(0, 8).SequenceEqual(Signature))
            throw new InvalidDataException($"{path} does not start with the PNG signature");
        if (!bytes.AsSpan(12, 4).SequenceEqual("IHDR"u8))
            throw new InvalidDataException($"{path} does not start with an IHDR chunk");
        return (BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(16)), BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(20)));
    }

    /// <summary>Decodes the image with Skia; throws when Skia cannot.</summary>
    public static SKBitmap Decode(string path) =>
        SKBitmap.Decode(path) ?? throw new InvalidDataException($"Skia cannot decode {path}");

    /// <summary>
    /// How many pixels are within <paramref name="tolerance"/> (sum of channel differences) of a
    /// colour such as "#1F77B4"; the tolerance admits the inner pixels of an antialiased line.
    /// </summary>
    public static int PixelsNear(SKBitmap bitmap, string hexColor, int tolerance = 24)
    {
        var wanted = SKColor.Parse(hexColor);
        return bitmap.Pixels.Count(p =>
            Math.Abs(p.Red - wanted.Red) + Math.Abs(p.Green - wanted.Green) + Math.Abs(p.Blue - wanted.Blue) <= tolerance);
    }
}
