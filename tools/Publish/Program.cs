Console.WriteLine("msswift publish");
