//! "Did you mean" suggestions for misspelled column names.

/// Edits allowed between a misspelled name and a suggestion. Two catches the common typos
/// (a dropped, doubled or swapped letter) without suggesting unrelated short names.
const MAX_SUGGESTION_DISTANCE: usize = 2;

/// The candidate closest to `name` by case-insensitive edit distance, if one is within
/// [`MAX_SUGGESTION_DISTANCE`]. Ties go to the earliest candidate (schema order).
pub fn closest_name<'a>(
    name: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let name_lowercase: Vec<char> = name.to_lowercase().chars().collect();
    let mut best: Option<(usize, &'a str)> = None;
    for candidate in candidates {
        let candidate_lowercase: Vec<char> = candidate.to_lowercase().chars().collect();
        let distance = edit_distance(&name_lowercase, &candidate_lowercase);
        let is_better = best.is_none_or(|(best_distance, _)| distance < best_distance);
        if distance <= MAX_SUGGESTION_DISTANCE && is_better {
            best = Some((distance, candidate));
        }
    }
    best.map(|(_, candidate)| candidate)
}

/// Levenshtein distance (insertions, deletions, substitutions) with one rolling row.
fn edit_distance(left: &[char], right: &[char]) -> usize {
    let mut previous_row: Vec<usize> = (0..=right.len()).collect();
    let mut current_row = vec![0; right.len() + 1];
    for (left_index, left_char) in left.iter().enumerate() {
        current_row[0] = left_index + 1;
        for (right_index, right_char) in right.iter().enumerate() {
            let substitution_cost = usize::from(left_char != right_char);
            current_row[right_index + 1] = (previous_row[right_index] + substitution_cost)
                .min(previous_row[right_index + 1] + 1)
                .min(current_row[right_index] + 1);
        }
        std::mem::swap(&mut previous_row, &mut current_row);
    }
    previous_row[right.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn distance(left: &str, right: &str) -> usize {
        let left: Vec<char> = left.chars().collect();
        let right: Vec<char> = right.chars().collect();
        edit_distance(&left, &right)
    }

    #[test]
    fn test_edit_distance_counts_edits() {
        assert_eq!(distance("", ""), 0);
        assert_eq!(distance("abc", ""), 3);
        assert_eq!(distance("kitten", "sitting"), 3);
        assert_eq!(distance("l_shipmod", "l_shipmode"), 1);
    }

    #[test]
    fn test_closest_name_within_two_edits() {
        let columns = ["l_shipdate", "l_shipmode", "l_comment"];
        assert_eq!(closest_name("l_shipmod", columns), Some("l_shipmode"));
        assert_eq!(closest_name("L_COMMENT", columns), Some("l_comment"));
        assert_eq!(closest_name("l_shpmde", columns), Some("l_shipmode"));
        assert_eq!(closest_name("price", columns), None);
    }

    #[test]
    fn test_closest_name_prefers_smaller_distance_then_order() {
        assert_eq!(closest_name("ab", ["abcd", "abc"]), Some("abc"));
        assert_eq!(closest_name("ax", ["ay", "az"]), Some("ay"));
    }
}
