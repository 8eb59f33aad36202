using MsSwift.Data.Datasets;

namespace MsSwift.Data.Tests;

/// <summary>The ingest's line reader: the lines TextReader.ReadLine gives, except that an overlong one is reported, not held.</summary>
public sealed class BoundedLineReaderTests
{
    [Theory]
    [InlineData("a\nbb\r\nccc\rdddd", 3)]
    [InlineData("a\nbb\r\nccc\rdddd\n", 3)]
    [InlineData("\n\r\n\r\rx\r\n\n", 1)]
    [InlineData("one line with no end", 2)]
    [InlineData("", 4)]
    [InlineData("\r\n\r\n", 1)]
    public async Task Lines_are_those_ReadLine_gives_whatever_the_buffer_boundaries(string text, int bufferChars)
    {
        var expected = new List<string>();
        using (var reference = new StringReader(text))
        {
            while (reference.ReadLine() is { } line)
            {
                expected.Add(line);
            }
        }

        var lines = await ReadAllAsync(text, maxChars: 100, bufferChars);

        Assert.Equal(expected, lines.Select(line => line.Text!));
        Assert.DoesNotContain(lines, line => line.TooLong);
    }

    [Fact]
    public async Task A_line_over_the_bound_is_reported_and_the_next_lines_read_as_usual()
    {
        var lines = await ReadAllAsync($"short\n{new string('x', 1000)}\r\nexactly10!\nafter", maxChars: 10, bufferChars: 7);

        Assert.Equal([("short", false), (null, true), ("exactly10!", false), ("after", false)], lines);
    }

    [Fact]
    public async Task A_line_of_white_space_over_the_bound_is_a_blank_line()
    {
        var lines = await ReadAllAsync($"a\n{new string(' ', 50)}\t\nb", maxChars: 10, bufferChars: 8);

        Assert.Equal([("a", false), ("", false), ("b", false)], lines);
    }

    private static async Task<List<(string? Text, bool TooLong)>> ReadAllAsync(string text, int maxChars, int bufferChars)
    {
        var reader = new BoundedLineReader(new StringReader(text), maxChars, bufferChars);
        var lines = new List<(string?, bool)>();
        while (await reader.ReadLineAsync(CancellationToken.None) is var (line, tooLong) && (line is not null || tooLong))
        {
            lines.Add((line, tooLong));
        }

        return lines;
    }
}
