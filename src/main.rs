fn main() {
    println!("flickrfs");
}
